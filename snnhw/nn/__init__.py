"""Spiking neuron layers, surrogate derivatives and networks (PyTorch, ``[T, B, ...]``)."""

from .lif import GRADIENTS, LI, LIF, RESETS
from .network import LAYER_TYPES, SpikingNetwork, architecture, mlp_architecture
from .qat import FixedPointSpec, fixed_point_forward
from .surrogate import SURROGATES, spike

__all__ = ["GRADIENTS", "LAYER_TYPES", "LI", "LIF", "RESETS", "SURROGATES", "FixedPointSpec",
           "SpikingNetwork", "architecture", "fixed_point_forward", "mlp_architecture", "spike"]
