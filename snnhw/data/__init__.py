"""Datasets and spike encoders."""

from .encoding import bernoulli_numpy, bernoulli_torch, intensities
from .mnist import DATASETS, Split, bundled_mnist, load_dataset, load_mnist_idx, read_idx

__all__ = ["DATASETS", "Split", "load_dataset", "bernoulli_numpy", "bernoulli_torch", "bundled_mnist", "intensities",
           "load_mnist_idx", "read_idx"]
