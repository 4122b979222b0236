"""Rate coding of intensities into spike trains ``[T, B, F]``.

Bernoulli rate coding: at every timestep each input fires with probability equal to its
intensity in ``[0, 1]`` (pixel / 255). The numpy encoder is seeded per call and is what the
evaluation, the golden model and the RTL testbench all consume, so every stage sees the same
spikes; the torch encoder draws fresh spikes for training.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["bernoulli_numpy", "bernoulli_torch", "intensities"]


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
