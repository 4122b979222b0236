"""Event-camera datasets through ``tonic``: N-MNIST, DVS-Gesture, CIFAR10-DVS.

Each dataset is read by tonic's own dataset class from the folder layout tonic extracts
its archives to (``<root>/<ClassName>/...``), with tonic's own file readers (N-MNIST
``.bin`` 40-bit events, DVS-Gesture ``.npy`` event tables, CIFAR10-DVS ``.aedat4``).
The only change to tonic's classes is the presence check: tonic checks for the downloaded
archives and a minimum file count before it reads anything, and downloads otherwise; here
the extracted folder must exist and nothing is downloaded.

Events go through tonic transforms: optional ``Denoise(filter_time)`` (drop events without
a neighbour within ``denoise_us`` microseconds), optional spatial ``Downsample``, then
``ToFrame(n_time_bins=T)``: ``uint8`` frames ``[T, C=2 polarities, H, W]``, one spike per
pixel, polarity and bin at most (counts clipped to 1). ToFrame splits the half-open span
``[first, last)`` of a sample's timestamps into T equal bins, so events at the very last
timestamp are dropped. :func:`frames_to_aer` and
:func:`aer_to_frames` convert frames to and from the address-event stream the hardware
takes: ``(timestep, address)`` pairs with ``address = (c * H + y) * W + x``, the row-major
index into the flattened frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import SnnhwError
from .mnist import Split

__all__ = ["EVENT_DATASETS", "EventOptions", "aer_to_frames", "frames_to_aer",
           "load_event_dataset"]

AER_DTYPE = np.dtype([("t", np.int32), ("address", np.int32)])


@dataclass(frozen=True)
class EventOptions:
    """Binning of event streams: ``timesteps`` bins per sample, ``denoise_us`` (0: off) the
    Denoise filter time in microseconds, ``downsample`` the spatial factor (1, 1/2, 1/4...),
    ``test_fraction`` of a dataset without its own test set held out by ``split_seed``."""

    timesteps: int = 10
    denoise_us: int = 0
    downsample: float = 1.0
    test_fraction: float = 0.2


def _tonic_class(name: str):
    try:
        import tonic.datasets
    except ImportError:
        raise SnnhwError(f"dataset {name!r} needs tonic: pip install tonic") from None
    base = {"nmnist": tonic.datasets.NMNIST, "dvs-gesture": tonic.datasets.DVSGesture,
            "cifar10-dvs": tonic.datasets.CIFAR10DVS}[name]

    class Extracted(base):  # type: ignore[misc, valid-type]
        """Tonic's dataset, reading an already extracted folder; never downloads."""

        def _check_exists(self) -> bool:
            return os.path.isdir(os.path.join(self.location_on_system, self.folder_name))

        def download(self) -> None:
            raise SnnhwError(f"{self.location_on_system}: no extracted {base.__name__} "
                             f"folder{'/' + self.folder_name if self.folder_name else ''} "
                             f"(download it with tonic.datasets.{base.__name__} elsewhere)")

    Extracted.__name__ = base.__name__  # tonic names the folder after the class
    return Extracted, base


EVENT_DATASETS = ("nmnist", "dvs-gesture", "cifar10-dvs")


def _frames(dataset, options: EventOptions, desc: str) -> tuple[np.ndarray, np.ndarray]:
    import tonic.transforms as tt

    sensor = tuple(dataset.sensor_size)
    steps = []
    if options.denoise_us > 0:
        steps.append(tt.Denoise(filter_time=options.denoise_us))
    if options.downsample != 1.0:
        steps.append(tt.Downsample(spatial_factor=options.downsample))
        sensor = (int(sensor[0] * options.downsample), int(sensor[1] * options.downsample),
                  sensor[2])
    filters = tt.Compose(steps)
    to_frame = tt.ToFrame(sensor_size=sensor, n_time_bins=options.timesteps)
    frames, labels = [], []
    for index in tqdm(range(len(dataset)), desc=desc, unit="sample", leave=False):
        events, label = dataset[index]
        events = filters(events)
        if len(events) == 0:
            frame = np.zeros((options.timesteps, sensor[2], sensor[1], sensor[0]), np.uint8)
        else:
            frame = to_frame(events)
        frames.append(np.minimum(frame, 1).astype(np.uint8))
        labels.append(int(label))
    if not frames:
        raise SnnhwError(f"{desc}: no samples found")
    return np.stack(frames), np.asarray(labels, dtype=np.int64)


def load_event_dataset(name: str, root: str | Path, options: EventOptions,
                       split_seed: int = 0) -> Split:
    """Frames ``uint8 [N, T, 2, H, W]`` and labels of an extracted tonic dataset under ``root``."""
    if name not in EVENT_DATASETS:
        raise SnnhwError(f"unknown event dataset {name!r}; known: {', '.join(EVENT_DATASETS)}")
    root = Path(root)
    if not root.is_dir():
        raise SnnhwError(f"{root}: no such dataset folder (for {name})")
    cls, base = _tonic_class(name)
    if name == "cifar10-dvs":
        frames, labels = _frames(cls(str(root)), options, f"{name} {root}")
        order = np.random.default_rng(split_seed).permutation(len(labels))
        n_test = max(1, int(round(len(labels) * options.test_fraction)))
        test, train = order[:n_test], order[n_test:]
        return Split(frames[train], labels[train], frames[test], labels[test])
    x_train, y_train = _frames(cls(str(root), train=True), options, f"{name} train")
    x_test, y_test = _frames(cls(str(root), train=False), options, f"{name} test")
    return Split(x_train, y_train, x_test, y_test)


def frames_to_aer(frames: np.ndarray) -> np.ndarray:
    """``[T, C, H, W]`` (or ``[T, F]``) 0/1 frames -> AER events ``(t, address)``, time-ordered."""
    flat = frames.reshape(frames.shape[0], -1)
    t, address = np.nonzero(flat)
    events = np.empty(len(t), dtype=AER_DTYPE)
    events["t"], events["address"] = t, address
    return events


def aer_to_frames(events: np.ndarray, timesteps: int, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of :func:`frames_to_aer`: ``uint8 [timesteps, *shape]``."""
    size = int(np.prod(shape))
    if len(events) and (events["address"].max() >= size or events["t"].max() >= timesteps):
        raise SnnhwError(f"AER event outside {timesteps} timesteps x {size} addresses")
    flat = np.zeros((timesteps, size), dtype=np.uint8)
    flat[events["t"], events["address"]] = 1
    return flat.reshape((timesteps,) + tuple(shape))
