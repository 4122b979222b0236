"""Event datasets through tonic, read from small files in each dataset's real on-disk format,
and the encoders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnhw import SnnhwError
from snnhw.data import encode_numpy, encode_torch, latency, load_dataset
from snnhw.data.events import aer_to_frames, frames_to_aer

from eventfiles import random_events, write_aedat4, write_dvsgesture_npy, write_nmnist_bin


def _active(ev: dict, factor: float = 1.0) -> set[tuple[int, int, int]]:
    """(polarity, y, x) pixels that received events before the last timestamp (tonic's
    ToFrame with n_time_bins bins the half-open span [first, last) of the timestamps)."""
    return {(int(p), int(y * factor), int(x * factor))
            for x, y, p, t in zip(ev["x"], ev["y"], ev["p"], ev["t"]) if t < ev["t"].max()}


def _frame_pixels(frames: np.ndarray) -> set[tuple[int, int, int]]:
    return {tuple(int(v) for v in idx) for idx in np.argwhere(frames.max(axis=0))}


def test_nmnist_bin_files(tmp_path):
    rng = np.random.default_rng(0)
    written = {}
    for part in ("Train", "Test"):
        for digit in (3, 7):
            ev = random_events(rng, 200, 34, 300_000)
            written[part, digit] = ev
            write_nmnist_bin(tmp_path / "NMNIST" / part / str(digit) / f"{digit}0001.bin", ev)
    data = load_dataset("nmnist", path=str(tmp_path), events={"timesteps": 6})
    assert data.x_train.shape == (2, 6, 2, 34, 34) and data.x_train.dtype == np.uint8
    assert data.y_train.tolist() == [3, 7] and data.y_test.tolist() == [3, 7]
    assert data.x_train.max() == 1
    for k, digit in enumerate((3, 7)):
        assert _frame_pixels(data.x_train[k]) == _active(written["Train", digit])
        assert _frame_pixels(data.x_test[k]) == _active(written["Test", digit])
    # events early in time land in early bins: the first bin holds the first events' pixels
    first = written["Train", 3]
    early = {(int(p), int(y), int(x)) for x, y, p, t in
             zip(first["x"], first["y"], first["p"], first["t"]) if t < first["t"][0] + 1}
    assert early <= _frame_pixels(data.x_train[0][:1])


def test_dvs_gesture_npy_files_with_downsampling(tmp_path):
    rng = np.random.default_rng(1)
    ev = {}
    for part in ("ibmGestureTrain", "ibmGestureTest"):
        for label in (2, 9):
            ev[part, label] = random_events(rng, 400, 128, 3_000_000)
            write_dvsgesture_npy(tmp_path / "DVSGesture" / part / "user05_led" / f"{label}.npy",
                                 ev[part, label])
    data = load_dataset("dvs-gesture", path=str(tmp_path),
                        events={"timesteps": 5, "downsample": 0.25})
    assert data.x_train.shape == (2, 5, 2, 32, 32)
    assert data.y_train.tolist() == [2, 9]
    assert _frame_pixels(data.x_test[1]) == _active(ev["ibmGestureTest", 9], 0.25)


def test_cifar10_dvs_aedat4_files_with_denoising(tmp_path):
    pytest.importorskip("dv_processing", reason="the AEDAT 4 writer comes with the [test] extra")
    rng = np.random.default_rng(2)
    for cls in ("airplane", "truck"):
        for k in range(5):
            ev = random_events(rng, 300, 128, 1_000_000)
            if k == 0:  # a 2x2 patch firing within 0.3 ms survives the denoise filter
                for n, (dx, dy) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
                    for key, v in (("x", 60 + dx), ("y", 70 + dy), ("p", 1),
                                   ("t", 500_000 + 100 * n)):
                        ev[key] = np.append(ev[key], v)
                order = np.argsort(ev["t"], kind="stable")
                ev = {key: v[order] for key, v in ev.items()}
            write_aedat4(tmp_path / "CIFAR10DVS" / cls / f"{cls}_{k}.aedat4", ev, 128)
    plain = load_dataset("cifar10-dvs", path=str(tmp_path), events={"timesteps": 4})
    assert len(plain.y_train) == 8 and len(plain.y_test) == 2
    assert sorted(plain.y_train.tolist() + plain.y_test.tolist()) == [0] * 5 + [9] * 5
    assert plain.x_train.shape[1:] == (4, 2, 128, 128)
    denoised = load_dataset("cifar10-dvs", path=str(tmp_path),
                            events={"timesteps": 4, "denoise_us": 1000})
    # sparse random events have no neighbour within 1 ms; the synchronous patch does
    kept = int(denoised.x_train.sum() + denoised.x_test.sum())
    assert 0 < kept < int(plain.x_train.sum() + plain.x_test.sum()) // 20


def test_missing_event_folder_names_it(tmp_path):
    with pytest.raises(SnnhwError, match="NMNIST"):
        load_dataset("nmnist", path=str(tmp_path), events={"timesteps": 4})
    with pytest.raises(SnnhwError, match="needs data_path"):
        load_dataset("dvs-gesture")


def test_aer_round_trip():
    frames = (np.random.default_rng(3).random((5, 2, 6, 7)) < 0.2).astype(np.uint8)
    events = frames_to_aer(frames)
    assert len(events) == frames.sum()
    assert np.all(np.diff(events["t"]) >= 0)
    np.testing.assert_array_equal(aer_to_frames(events, 5, (2, 6, 7)), frames)
    with pytest.raises(SnnhwError, match="outside"):
        aer_to_frames(events, 5, (2, 6, 6))


def test_latency_code_fires_once_brightest_first():
    p = np.array([[1.0, 0.5, 0.01, 0.0]], dtype=np.float32)
    spikes = latency(p, 5)
    assert spikes.shape == (5, 1, 4)
    assert spikes[:, 0].argmax(0)[:3].tolist() == [0, 2, 4]
    assert spikes.sum(0).tolist() == [[1, 1, 1, 0]]
    torch.testing.assert_close(encode_torch(torch.from_numpy(p), "latency", 5),
                               torch.from_numpy(spikes.astype(np.float32)))


def test_direct_and_frame_encodings():
    images = np.array([[0, 255, 51]], dtype=np.uint8)
    direct = encode_numpy(images, {"type": "direct", "timesteps": 3, "seed": 0})
    assert direct.shape == (3, 1, 3) and direct.dtype == np.float32
    np.testing.assert_allclose(direct[2, 0], [0.0, 1.0, 0.2])
    frames = np.random.default_rng(4).integers(0, 3, size=(2, 4, 2, 3, 3)).astype(np.uint8)
    spikes = encode_numpy(frames, {"type": "frames", "timesteps": 4, "seed": 0})
    assert spikes.shape == (4, 2, 2, 3, 3)
    np.testing.assert_array_equal(spikes[1, 0], np.minimum(frames[0, 1], 1))
    np.testing.assert_array_equal(
        encode_torch(torch.from_numpy(frames.astype(np.float32)), "frames", 4).numpy(), spikes)
