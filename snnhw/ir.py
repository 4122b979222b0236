"""The integer network description (IR): the one contract between software and hardware.

The IR is what ``snnhw build`` writes (``network.json`` + ``network.npz``) and what the golden
model, the HDL generator, the cycle model and the report all read. It imports neither torch
nor amaranth. The arithmetic it describes is specified in ``docs/fixed-point.md``.

Integers in a layer share one scale: ``scale`` is the float membrane value of one LSB, so a
weight ``w`` stands for ``w * scale``, the threshold ``threshold * scale``, and so on.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .fixedpoint import (
    LEAK_FRAC_BITS_RANGE,
    MEMBRANE_BITS_RANGE,
    WEIGHT_BITS_RANGE,
    signed_bits,
    signed_range,
)

__all__ = ["FORMAT", "VERSION", "IRError", "LIFLayer", "Network", "load", "save",
           "signed_bits", "signed_range", "WEIGHT_BITS_RANGE", "MEMBRANE_BITS_RANGE",
           "LEAK_FRAC_BITS_RANGE", "RESETS"]

FORMAT = "snnhw-ir"
VERSION = 1
RESETS = ("zero", "subtract")


class IRError(ValueError):
    """The IR breaks a rule of the schema; the message names the layer, the value and the rule."""


@dataclass(frozen=True, eq=False)
class LIFLayer:
    """A fully connected layer of integer LIF neurons.

    Widths are in bits, two's complement. ``weight`` is ``int64 [out_features, in_features]``
    and ``bias`` ``int64 [out_features]``, both in LSBs of ``scale``.

    * ``weight_bits``: width of every weight.
    * ``membrane_bits``: width of the membrane carried between timesteps; the membrane
      saturates to this range once per timestep, after integration (see the docs).
    * ``accumulator_bits``: width of the exact accumulator that holds the carried membrane
      plus the weights of one timestep's input events; chosen so it can never overflow.
    * ``threshold``: firing threshold in LSBs, ``1 <= threshold <= max membrane``;
      a neuron fires when ``u >= threshold``.
    * ``leak_mult`` / ``leak_frac_bits``: the leak factor ``tau = leak_mult / 2**leak_frac_bits``
      (``0 <= leak_mult <= 2**leak_frac_bits``), product rounded toward zero.
    * ``reset``: ``"zero"`` (hard) or ``"subtract"`` (soft, subtract the threshold).
    """

    name: str
    in_features: int
    out_features: int
    weight_bits: int
    membrane_bits: int
    accumulator_bits: int
    threshold: int
    leak_mult: int
    leak_frac_bits: int
    reset: str
    scale: float
    weight: np.ndarray = field(repr=False)
    bias: np.ndarray = field(repr=False)

    @property
    def membrane_range(self) -> tuple[int, int]:
        return signed_range(self.membrane_bits)

    @property
    def weight_range(self) -> tuple[int, int]:
        return signed_range(self.weight_bits)

    @property
    def tau(self) -> float:
        return self.leak_mult / (1 << self.leak_frac_bits)

    def accumulator_bounds(self) -> tuple[int, int]:
        """Exact range of the accumulator: any carried membrane plus any subset of a row's weights."""
        w = self.weight.astype(np.int64)
        lo, hi = self.membrane_range
        most_negative = int(np.minimum(w, 0).sum(axis=1).min()) if w.size else 0
        most_positive = int(np.maximum(w, 0).sum(axis=1).max()) if w.size else 0
        return lo + most_negative, hi + most_positive

    def metadata(self) -> dict[str, Any]:
        meta = asdict(self)
        del meta["weight"], meta["bias"]
        return meta


@dataclass(frozen=True, eq=False)
class Network:
    """A feed-forward chain of LIF layers run for ``timesteps`` steps per sample.

    ``encoding`` and ``dataset`` are copied from ``model.pt`` so later stages can re-create the
    input spikes; ``source`` records where the IR came from. ``vote_group`` output neurons
    vote for each class (neurons ``c * vote_group ... (c + 1) * vote_group - 1`` for class
    ``c``; 1 without a voting layer).
    """

    name: str
    timesteps: int
    input_features: int
    layers: tuple[LIFLayer, ...]
    encoding: dict[str, Any]
    dataset: dict[str, Any]
    source: dict[str, Any]
    vote_group: int = 1

    @property
    def output_features(self) -> int:
        return self.layers[-1].out_features

    def validate(self) -> "Network":
        """Check every rule of the schema; raise :class:`IRError` on the first broken one."""
        if not self.layers:
            raise IRError("network has no layers")
        if self.timesteps < 1:
            raise IRError(f"timesteps must be >= 1, got {self.timesteps}")
        if self.vote_group < 1 or self.output_features % self.vote_group:
            raise IRError(f"vote_group={self.vote_group} does not divide the "
                          f"{self.output_features} output neurons")
        fan_in = self.input_features
        for layer in self.layers:
            _validate_layer(layer, fan_in)
            fan_in = layer.out_features
        return self


def _validate_layer(layer: LIFLayer, fan_in: int) -> None:
    where = f"layer {layer.name!r}"
    if layer.in_features != fan_in:
        raise IRError(f"{where}: in_features={layer.in_features} but the previous stage has "
                      f"{fan_in} outputs")
    if layer.out_features < 1:
        raise IRError(f"{where}: out_features must be >= 1, got {layer.out_features}")
    lo_w, hi_w = WEIGHT_BITS_RANGE
    if not lo_w <= layer.weight_bits <= hi_w:
        raise IRError(f"{where}: weight_bits={layer.weight_bits}; allowed {lo_w}..{hi_w}")
    lo_m, hi_m = MEMBRANE_BITS_RANGE
    if not lo_m <= layer.membrane_bits <= hi_m:
        raise IRError(f"{where}: membrane_bits={layer.membrane_bits}; allowed {lo_m}..{hi_m}")
    lo_f, hi_f = LEAK_FRAC_BITS_RANGE
    if not lo_f <= layer.leak_frac_bits <= hi_f:
        raise IRError(f"{where}: leak_frac_bits={layer.leak_frac_bits}; allowed {lo_f}..{hi_f}")
    if not 0 <= layer.leak_mult <= (1 << layer.leak_frac_bits):
        raise IRError(f"{where}: leak_mult={layer.leak_mult}; allowed 0..{1 << layer.leak_frac_bits}"
                      f" (tau in [0, 1])")
    if layer.reset not in RESETS:
        raise IRError(f"{where}: reset={layer.reset!r}; allowed {RESETS}")
    m_lo, m_hi = layer.membrane_range
    if not 1 <= layer.threshold <= m_hi:
        raise IRError(f"{where}: threshold={layer.threshold} does not fit a "
                      f"{layer.membrane_bits}-bit membrane; allowed 1..{m_hi}")
    if layer.weight.shape != (layer.out_features, layer.in_features):
        raise IRError(f"{where}: weight shape {layer.weight.shape}, expected "
                      f"{(layer.out_features, layer.in_features)}")
    if layer.bias.shape != (layer.out_features,):
        raise IRError(f"{where}: bias shape {layer.bias.shape}, expected ({layer.out_features},)")
    w_lo, w_hi = layer.weight_range
    if layer.weight.size and (layer.weight.min() < w_lo or layer.weight.max() > w_hi):
        raise IRError(f"{where}: weights span {layer.weight.min()}..{layer.weight.max()}; "
                      f"{layer.weight_bits}-bit weights allow {w_lo}..{w_hi}")
    if layer.bias.min() < m_lo or layer.bias.max() > m_hi:
        raise IRError(f"{where}: bias spans {layer.bias.min()}..{layer.bias.max()}; a "
                      f"{layer.membrane_bits}-bit membrane allows {m_lo}..{m_hi}")
    needed = signed_bits(*layer.accumulator_bounds())
    if layer.accumulator_bits < needed:
        raise IRError(f"{where}: accumulator_bits={layer.accumulator_bits} can overflow; "
                      f"the weights need at least {needed}")


def save(net: Network, folder: str | Path) -> tuple[Path, Path]:
    """Write ``network.json`` (metadata, human-readable) and ``network.npz`` (integer arrays)."""
    net.validate()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "version": VERSION, "name": net.name, "timesteps": net.timesteps,
            "input_features": net.input_features, "encoding": net.encoding,
            "dataset": net.dataset, "source": net.source, "vote_group": net.vote_group,
            "layers": [layer.metadata() for layer in net.layers]}
    arrays = {}
    for layer in net.layers:
        arrays[f"{layer.name}.weight"] = layer.weight.astype(np.int32)
        arrays[f"{layer.name}.bias"] = layer.bias.astype(np.int32)
    json_path, npz_path = folder / "network.json", folder / "network.npz"
    _atomic_write(json_path, lambda fh: fh.write(json.dumps(meta, indent=2).encode() + b"\n"))
    _atomic_write(npz_path, lambda fh: np.savez(fh, **arrays))
    return json_path, npz_path


def load(folder: str | Path) -> Network:
    """Read and validate an IR written by :func:`save`."""
    folder = Path(folder)
    json_path, npz_path = folder / "network.json", folder / "network.npz"
    try:
        meta = json.loads(json_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise IRError(f"{json_path}: cannot read IR metadata ({exc})") from None
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise IRError(f"{json_path}: expected format {FORMAT!r} version {VERSION}, got "
                      f"{meta.get('format')!r} version {meta.get('version')!r}")
    with np.load(npz_path) as arrays:
        layers = tuple(
            LIFLayer(**spec, weight=arrays[f"{spec['name']}.weight"].astype(np.int64),
                     bias=arrays[f"{spec['name']}.bias"].astype(np.int64))
            for spec in meta["layers"])
    return Network(name=meta["name"], timesteps=meta["timesteps"],
                   input_features=meta["input_features"], layers=layers,
                   encoding=meta["encoding"], dataset=meta["dataset"],
                   source=meta["source"], vote_group=int(meta.get("vote_group", 1))).validate()


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
