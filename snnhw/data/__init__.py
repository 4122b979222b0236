"""Datasets and spike encoders."""

from .encoding import bernoulli_numpy, bernoulli_torch, intensities
from .mnist import Split, bundled_mnist, load_mnist_idx, read_idx

__all__ = ["Split", "bernoulli_numpy", "bernoulli_torch", "bundled_mnist", "intensities",
           "load_mnist_idx", "read_idx"]
