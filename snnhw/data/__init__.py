"""Datasets and spike encoders."""

from .encoding import (
    DIRECT,
    ENCODINGS,
    SPIKE_ENCODINGS,
    bernoulli_numpy,
    bernoulli_torch,
    encode_numpy,
    encode_torch,
    intensities,
    latency,
)
from .mnist import DATASETS, Split, bundled_mnist, load_dataset, load_mnist_idx, read_idx

__all__ = ["DATASETS", "DIRECT", "ENCODINGS", "SPIKE_ENCODINGS", "Split", "bernoulli_numpy",
           "bernoulli_torch", "bundled_mnist", "encode_numpy", "encode_torch", "intensities",
           "latency", "load_dataset", "load_mnist_idx", "read_idx"]
