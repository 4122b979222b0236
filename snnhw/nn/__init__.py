"""Spiking neuron layers, surrogate derivatives and networks (PyTorch, ``[T, B, ...]``)."""

from .lif import LIF, RESETS
from .network import SpikingNetwork, mlp_architecture
from .surrogate import SURROGATES, spike

__all__ = ["LIF", "RESETS", "SURROGATES", "SpikingNetwork", "mlp_architecture", "spike"]
