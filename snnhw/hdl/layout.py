"""Memory layout of a layer core with P lanes: which integers sit in which memory word.

Neurons are processed in groups of P (``lanes``); group g holds neurons ``g*P .. g*P+P-1``
and there are ``G = ceil(N / P)`` groups, the last one padded with zero weights and zero bias
(a padded neuron stays at 0 < threshold and never fires).

* weights: word ``j*G + g`` packs the weights from input j to group g's P neurons, lane 0 in
  the least significant ``weight_bits``;
* biases: word ``g`` packs group g's P biases (``membrane_bits`` each);
* fire levels: word ``g`` packs group g's P values ``threshold - bias`` (``membrane_bits + 1``
  each): a neuron fires when its membrane before the bias reaches it, which the core compares
  straight out of the membrane memory, beside the bias adder;
* membranes: word ``g`` packs group g's P accumulators (``accumulator_bits`` each).
"""

from __future__ import annotations

import numpy as np

from ..ir import LIFLayer

__all__ = ["LANES", "bias_words", "fire_level_words", "groups", "pack", "weight_words"]

LANES = (1, 2, 4, 8, 16)


def groups(neurons: int, lanes: int) -> int:
    """Number of neuron groups, ``ceil(neurons / lanes)``."""
    return -(-neurons // lanes)


def pack(values: np.ndarray, bits: int) -> int:
    """Pack signed integers into one unsigned word, element 0 least significant."""
    word = 0
    for k, value in enumerate(values):
        word |= (int(value) & ((1 << bits) - 1)) << (k * bits)
    return word


def _padded(matrix: np.ndarray, lanes: int) -> np.ndarray:
    """Pad the neuron axis (last) with zeros to a multiple of ``lanes``."""
    pad = groups(matrix.shape[-1], lanes) * lanes - matrix.shape[-1]
    return np.pad(matrix, [(0, 0)] * (matrix.ndim - 1) + [(0, pad)])


def weight_words(layer: LIFLayer, lanes: int) -> list[int]:
    """Weight memory contents, address ``j*G + g``."""
    w = _padded(layer.weight.T, lanes)                 # [in, G*P]
    return [pack(row[g * lanes:(g + 1) * lanes], layer.weight_bits)
            for row in w for g in range(w.shape[1] // lanes)]


def bias_words(layer: LIFLayer, lanes: int) -> list[int]:
    """Bias memory contents, address ``g``."""
    b = _padded(layer.bias[None, :], lanes)[0]
    return [pack(b[g * lanes:(g + 1) * lanes], layer.membrane_bits)
            for g in range(len(b) // lanes)]


def fire_level_words(layer: LIFLayer, lanes: int) -> list[int]:
    """Fire level memory contents, address ``g``: ``threshold - bias`` per neuron (padded
    neurons: ``threshold``, never reached by their membrane of 0)."""
    b = _padded(layer.bias[None, :], lanes)[0]
    return [pack(layer.threshold - b[g * lanes:(g + 1) * lanes], layer.membrane_bits + 1)
            for g in range(len(b) // lanes)]
