"""Memory layout of a layer core with P lanes: which integers sit in which memory word.

Neurons are processed in groups of P (``lanes``); group g holds neurons ``g*P .. g*P+P-1``
and there are ``G = ceil(N / P)`` groups, the last one padded with zero weights and zero bias
(a padded neuron stays at 0 < threshold and never fires).

* weights: word ``j*G + g`` packs the weights from input j to group g's P neurons, lane 0 in
  the least significant ``weight_bits``; a convolution's groups are P output channels and its
  word ``((c*K + ky)*K + kx)*G + g`` packs the kernel taps ``[g*P + lane, c, ky, kx]``;
* biases: word ``g`` packs group g's P biases (``membrane_bits`` each);
* fire levels: word ``g`` packs group g's P values ``threshold - bias`` (``membrane_bits + 1``
  each): a neuron fires when its membrane before the bias reaches it, which the core compares
  straight out of the membrane memory, beside the bias adder;
* membranes: word ``g`` packs group g's P accumulators (``accumulator_bits`` each); a
  convolution's word ``g*OH*OW + pos`` packs the accumulators of channels ``g*P .. g*P+P-1``
  at output position ``pos = oy*OW + ox``. With a NeuNorm term, the P states ``a``
  (``aux_bits`` each) follow the P accumulators in the same word;
* aux kernel (a NeuNorm term): word ``(ky*K + kx)*G + g`` packs the taps
  ``aux_weight[g*P + lane, ky, kx]`` (``aux_weight_bits`` each).

A direct-encoding layer whose :attr:`~snnhw.ir.Layer.replays_input` holds has no current
memory: an :class:`~snnhw.hdl.replay.InputReplay` in front of its core keeps its input events.
"""

from __future__ import annotations

import numpy as np

from ..ir import ConvLIFLayer, Layer

__all__ = ["LANES", "aux_kernel_words", "bias_words", "fire_level_words", "groups", "membrane_words", "pack",
           "weight_depth", "weight_words"]

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


def _channels(layer: Layer) -> int:
    """Neurons per position: a convolution's output channels, a dense layer's outputs."""
    return layer.out_channels if isinstance(layer, ConvLIFLayer) else layer.out_features


def weight_depth(layer: Layer, lanes: int) -> int:
    """Words of the weight memory: one per (synapse or kernel tap, group)."""
    inputs = (layer.in_shape[0] * layer.kernel_size ** 2 if isinstance(layer, ConvLIFLayer)
              else layer.synapses)
    return inputs * groups(_channels(layer), lanes)


def membrane_words(layer: Layer, lanes: int) -> int:
    """Words of the membrane memory: ``G`` per output position."""
    return groups(_channels(layer), lanes) * (layer.out_features // _channels(layer))


def weight_words(layer: Layer, lanes: int) -> list[int]:
    """Weight memory contents, address ``j*G + g`` (a convolution: ``j = (c*K + ky)*K + kx``)."""
    if isinstance(layer, ConvLIFLayer):
        rows = layer.weight.transpose(1, 2, 3, 0).reshape(-1, layer.out_channels)
    else:
        rows = layer.weight.T
    w = _padded(rows, lanes)                           # [in, G*P]
    return [pack(row[g * lanes:(g + 1) * lanes], layer.weight_bits)
            for row in w for g in range(w.shape[1] // lanes)]


def bias_words(layer: Layer, lanes: int) -> list[int]:
    """Bias memory contents, address ``g``."""
    b = _padded(layer.bias[None, :], lanes)[0]
    return [pack(b[g * lanes:(g + 1) * lanes], layer.membrane_bits)
            for g in range(len(b) // lanes)]


def fire_level_words(layer: Layer, lanes: int) -> list[int]:
    """Fire level memory contents, address ``g``: ``threshold - bias`` per neuron (padded
    neurons: ``threshold``, never reached by their membrane of 0)."""
    b = _padded(layer.bias[None, :], lanes)[0]
    return [pack(layer.threshold - b[g * lanes:(g + 1) * lanes], layer.membrane_bits + 1)
            for g in range(len(b) // lanes)]


def aux_kernel_words(layer: ConvLIFLayer, lanes: int) -> list[int]:
    """Aux kernel memory contents, address ``(ky*K + kx)*G + g``."""
    rows = _padded(layer.aux_weight.transpose(1, 2, 0).reshape(-1, layer.out_channels), lanes)
    bits = layer.aux_weight_bits
    return [pack(row[g * lanes:(g + 1) * lanes], bits)
            for row in rows for g in range(rows.shape[1] // lanes)]
