"""Writers of small files in each event dataset's real on-disk format (as tonic extracts it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def random_events(rng: np.random.Generator, n: int, size: int, duration_us: int) -> dict:
    return {"x": rng.integers(0, size, n), "y": rng.integers(0, size, n),
            "p": rng.integers(0, 2, n), "t": np.sort(rng.integers(0, duration_us, n))}


def write_nmnist_bin(path: Path, ev: dict) -> None:
    """N-MNIST ``.bin``: 5 bytes per event: x, y, polarity in bit 7 + timestamp bits 22-16,
    timestamp bits 15-8, timestamp bits 7-0 (microseconds)."""
    t = ev["t"].astype(np.uint32)
    raw = np.stack([ev["x"], ev["y"], (ev["p"] << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF,
                    t & 0xFF], axis=1).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw.tofile(path)


def write_dvsgesture_npy(path: Path, ev: dict) -> None:
    """DVS-Gesture as tonic extracts it: ``[N, 4]`` table x, y, p, t (milliseconds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.stack([ev["x"], ev["y"], ev["p"], ev["t"] // 1000], axis=1).astype(np.int64))


def write_aedat4(path: Path, ev: dict, size: int) -> None:
    """CIFAR10-DVS as tonic extracts it: an AEDAT 4 file written by iniVation's dv-processing."""
    import dv_processing as dv

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = dv.io.MonoCameraWriter(str(path), dv.io.MonoCameraWriter.EventOnlyConfig(
        "DVS128_test", (size, size)))
    store = dv.EventStore()
    for x, y, p, t in zip(ev["x"], ev["y"], ev["p"], ev["t"]):
        store.push_back(int(t), int(x), int(y), bool(p))
    writer.writeEvents(store)
    del writer
