"""Spiking neuron layers, surrogate derivatives and networks (PyTorch, ``[T, B, ...]``)."""

from .lif import LIF, RESETS
from .network import SpikingNetwork, mlp_architecture
from .qat import FixedPointSpec, fixed_point_forward
from .surrogate import SURROGATES, spike

__all__ = ["LIF", "RESETS", "SURROGATES", "FixedPointSpec", "SpikingNetwork",
           "fixed_point_forward", "mlp_architecture", "spike"]
