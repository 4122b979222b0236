"""Memory layout of a layer core with P lanes: which integers sit in which memory word.

Neurons are processed in groups of P (``lanes``); group g holds neurons ``g*P .. g*P+P-1``
and there are ``G = ceil(N / P)`` groups, the last one padded with zero weights and zero bias
(a padded neuron stays at 0 < threshold and never fires).

* weights: word ``j*G + g`` packs the weights from input j to group g's P neurons, lane 0 in
  the least significant ``weight_bits``; a convolution's groups are P output channels and its
  word ``((c*K + ky)*K + kx)*G + g`` packs the kernel taps ``[g*P + lane, c, ky, kx]``; with
  banked membranes (one kernel row per clock, :func:`banks_rows`) word ``(c*K + ky)*G + g``
  packs a whole kernel row, tap ``kx`` in bits ``kx*P*weight_bits`` up;
* biases: word ``g`` packs group g's P biases (``membrane_bits`` each);
* fire levels: word ``g`` packs group g's P values ``threshold - bias`` (``membrane_bits + 1``
  each): a neuron fires when its membrane before the bias reaches it, which the core compares
  straight out of the membrane memory, beside the bias adder;
* membranes: word ``g`` packs group g's P accumulators (``accumulator_bits`` each); a
  convolution's word ``g*OH*OW + pos`` packs the accumulators of channels ``g*P .. g*P+P-1``
  at output position ``pos = oy*OW + ox``. With a NeuNorm term, the P states ``a``
  (``aux_bits`` each) follow the P accumulators in the same word. Banked membranes: K
  memories (banks), bank ``ox mod K`` holding position ``(oy, ox)`` at word
  ``(g*OH + oy)*Q + ox div K``, ``Q = ceil(OW / K)``: the K taps of a kernel row reach K
  consecutive output columns (stride 2: at most ``ceil(K / 2)``), so K different banks
  (:func:`row_taps`: which tap and word each bank takes for an input column);
* aux kernel (a NeuNorm term): word ``(ky*K + kx)*G + g`` packs the taps
  ``aux_weight[g*P + lane, ky, kx]`` (``aux_weight_bits`` each).

A direct-encoding layer whose :attr:`~snnhw.ir.Layer.replays_input` holds has no current
memory: an :class:`~snnhw.hdl.replay.InputReplay` in front of its core keeps its input events.
"""

from __future__ import annotations

import numpy as np

from ..ir import ConvLIFLayer, Layer

__all__ = ["LANES", "aux_kernel_words", "bank_words", "banks_rows", "bias_words",
           "fire_level_words", "groups", "membrane_words", "pack", "row_taps", "weight_depth",
           "weight_width", "weight_words"]

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


def banks_rows(layer: Layer) -> bool:
    """Whether a core can bank the layer's membranes and take a kernel row per clock: a
    convolution over spikes (not a direct input), kernel 2 or more, no NeuNorm term."""
    return (isinstance(layer, ConvLIFLayer) and layer.kernel_size > 1 and not layer.direct
            and not layer.neunorm)


def weight_depth(layer: Layer, lanes: int, rows: bool = False) -> int:
    """Words of the weight memory: one per (synapse or kernel tap, group); ``rows``: one per
    (kernel row, group), K taps wide (banked membranes)."""
    inputs = (layer.in_shape[0] * layer.kernel_size ** (1 if rows else 2)
              if isinstance(layer, ConvLIFLayer) else layer.synapses)
    return inputs * groups(_channels(layer), lanes)


def row_taps(layer: ConvLIFLayer) -> list[list[tuple[int, int, int]]]:
    """Banked membranes: per input column x (of the pooled map), per bank b, the kernel row's
    tap ``kx`` whose output column ``ox = (x + padding - kx) / stride`` lies in bank b
    (``ox mod K == b``), that column's word in the bank's row (``ox div K``) and whether it
    is on the map (0, 0, 0 if none is). The row's output columns run from
    ``lo = ceil((x + padding - K + 1) / stride)`` to ``hi = floor((x + padding) / stride)``, at
    most K consecutive columns, so each bank gets at most one."""
    k, stride, pad = layer.kernel_size, layer.stride, layer.padding
    out_w = layer.out_shape[2]
    table = []
    for x in range(layer.pooled_shape[2]):
        lo, hi = -((k - 1 - x - pad) // stride), (x + pad) // stride
        row = []
        for bank in range(k):
            ox = lo + (bank - lo) % k
            on = ox <= hi and 0 <= ox < out_w
            row.append((x + pad - stride * ox, ox // k, 1) if on else (0, 0, 0))
        table.append(row)
    return table


def weight_width(layer: Layer, lanes: int, rows: bool = False) -> int:
    """Bits of a weight word: P weights, or (``rows``) the K taps of a kernel row of them."""
    return lanes * layer.weight_bits * (layer.kernel_size if rows else 1)


def membrane_words(layer: Layer, lanes: int) -> int:
    """Words of the membrane memory: ``G`` per output position."""
    return groups(_channels(layer), lanes) * (layer.out_features // _channels(layer))


def bank_words(layer: ConvLIFLayer, lanes: int) -> int:
    """Words of each of the K membrane banks: ``G * OH * ceil(OW / K)``."""
    _, out_h, out_w = layer.out_shape
    return groups(layer.out_channels, lanes) * out_h * -(-out_w // layer.kernel_size)


def weight_words(layer: Layer, lanes: int, rows: bool = False) -> list[int]:
    """Weight memory contents, address ``j*G + g`` (a convolution: ``j = (c*K + ky)*K + kx``);
    ``rows``: address ``(c*K + ky)*G + g``, the K taps of the row side by side."""
    if isinstance(layer, ConvLIFLayer):
        taps = layer.weight.transpose(1, 2, 3, 0).reshape(-1, layer.out_channels)
    else:
        taps = layer.weight.T
    w = _padded(taps, lanes)                           # [in, G*P]
    words = [pack(row[g * lanes:(g + 1) * lanes], layer.weight_bits)
             for row in w for g in range(w.shape[1] // lanes)]
    if not rows:
        return words
    k, g_count, tap_bits = layer.kernel_size, groups(layer.out_channels, lanes), \
        lanes * layer.weight_bits
    return [sum(words[(row * k + kx) * g_count + g] << (kx * tap_bits) for kx in range(k))
            for row in range(len(words) // (k * g_count)) for g in range(g_count)]


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
