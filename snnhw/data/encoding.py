"""Encoders: intensities (pixels) -> network inputs ``[T, B, F]``.

``ENCODINGS``, the ``type`` of a model's ``encoding``:

* ``bernoulli``: rate coding; at every timestep each input fires with probability equal to
  its intensity in ``[0, 1]`` (pixel / 255): the discrete-time Poisson process of the
  seed papers' "Poisson input" (Lee et al. 2020; STBP's probabilistic coding).
* ``latency``: time-to-first-spike; one spike per input at step
  ``round((1 - p) (T - 1))``, brightest first; inputs with ``p = 0`` stay silent.
* ``direct``: the intensities themselves at every step; the first layer is then the
  encoding layer (Wu et al., AAAI 2019) and turns real values into spikes. The hardware
  takes them as unsigned integers (``snnhw.quant.integer_inputs``) and computes the first
  layer's currents once per sample.
* ``frames``: event-camera data already binned into ``[T, C, H, W]`` spike frames.

The numpy encoders are seeded per call and are what the evaluation, the golden model and the
RTL testbench all consume, so every stage sees the same spikes; the torch encoders draw fresh
spikes for training.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["DIRECT", "ENCODINGS", "SPIKE_ENCODINGS", "bernoulli_numpy", "bernoulli_torch",
           "encode_numpy", "encode_torch", "intensities", "latency"]

ENCODINGS = ("bernoulli", "latency", "direct", "frames")
SPIKE_ENCODINGS = ("bernoulli", "latency", "frames")
DIRECT = "direct"


def intensities(images: np.ndarray) -> np.ndarray:
    """``uint8`` pixels 0..255 -> ``float32`` firing probabilities in [0, 1]."""
    return images.astype(np.float32) / 255.0


def bernoulli_numpy(images: np.ndarray, timesteps: int, seed: int) -> np.ndarray:
    """Seeded Bernoulli spikes ``uint8 [T, B, F]`` from ``uint8`` images ``[B, F]``.

    Sample ``b``'s spikes depend only on ``seed`` and ``b``'s position, so a prefix of a batch
    encodes identically to the whole batch.
    """
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    p = intensities(images)
    rng = np.random.default_rng(seed)
    out = np.empty((timesteps,) + p.shape, dtype=np.uint8)
    for b in range(p.shape[0]):
        out[:, b] = rng.random((timesteps, p.shape[1]), dtype=np.float32) < p[b]
    return out


def bernoulli_torch(p: torch.Tensor, timesteps: int, generator: torch.Generator | None = None
                    ) -> torch.Tensor:
    """Bernoulli spikes ``float [T, B, F]`` from probabilities ``[B, F]`` (for training)."""
    noise = torch.rand((timesteps,) + tuple(p.shape), generator=generator, device=p.device)
    return (noise < p.unsqueeze(0)).to(p.dtype)


def latency(p: np.ndarray | torch.Tensor, timesteps: int) -> np.ndarray | torch.Tensor:
    """Time-to-first-spike ``[T, B, F]`` from intensities ``[B, F]`` in ``[0, 1]``."""
    lib = torch if isinstance(p, torch.Tensor) else np
    first = lib.round((1.0 - p) * (timesteps - 1))
    steps = lib.arange(timesteps).reshape((timesteps,) + (1,) * p.ndim)
    fires = (steps == first[None]) & (p[None] > 0)
    return fires.to(p.dtype) if lib is torch else fires.astype(np.uint8)


def encode_numpy(x: np.ndarray, encoding: dict) -> np.ndarray:
    """Deterministic network inputs ``[T, B, ...]`` for the model's ``encoding``.

    ``x``: ``uint8`` images ``[B, F]`` (pixels), or for ``frames`` ``uint8`` ``[B, T, ...]``
    event frames. Spikes come back as ``uint8``, ``direct`` values as ``float32``.
    """
    kind, steps = encoding["type"], int(encoding["timesteps"])
    if kind == "bernoulli":
        return bernoulli_numpy(x, steps, int(encoding["seed"]))
    if kind == "latency":
        return latency(intensities(x), steps)
    if kind == "direct":
        return np.broadcast_to(intensities(x), (steps,) + x.shape).copy()
    if kind == "frames":
        return np.moveaxis(np.minimum(x, 1), 1, 0).astype(np.uint8)
    raise ValueError(f"unknown encoding {kind!r}; known: {', '.join(ENCODINGS)}")


def encode_torch(x: torch.Tensor, kind: str, timesteps: int,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Training inputs ``float [T, B, ...]``: ``x`` intensities ``[B, F]`` in [0, 1], or for
    ``frames`` spike counts ``[B, T, ...]`` (clipped to one spike per bin)."""
    if kind == "bernoulli":
        return bernoulli_torch(x, timesteps, generator)
    if kind == "latency":
        return latency(x, timesteps)
    if kind == "direct":
        return x.unsqueeze(0).expand(timesteps, *x.shape)
    if kind == "frames":
        return x.clamp(max=1).movedim(1, 0)
    raise ValueError(f"unknown encoding {kind!r}; known: {', '.join(ENCODINGS)}")
