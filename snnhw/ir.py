"""The integer network description (IR): the one contract between software and hardware.

The IR is what ``snnhw build`` writes (``network.json`` + ``network.npz``) and what the golden
model, the HDL generator, the cycle model and the report all read. It imports neither torch
nor amaranth. The arithmetic it describes is specified in ``docs/fixed-point.md``.

Integers in a layer share one scale: ``scale`` is the float membrane value of one LSB, so a
weight ``w`` stands for ``w * scale``, the threshold ``threshold * scale``, and so on.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from dataclasses import asdict, dataclass, field, fields
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np

from . import SnnhwError
from .files import atomic_path
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


ACCUMULATOR_BITS_MAX = 64
# layer names become Verilog identifiers and memory image file names
LAYER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


class IRError(SnnhwError, ValueError):
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
        if not isinstance(self.name, str) or not self.name:
            raise IRError(f"name={self.name!r}: a non-empty string is required")
        for key in ("timesteps", "input_features", "vote_group"):
            _require_int(getattr(self, key), key, "network")
        for key in ("encoding", "dataset", "source"):
            if not isinstance(getattr(self, key), dict):
                raise IRError(f"network: {key}={getattr(self, key)!r}; a mapping is required")
        if not self.layers:
            raise IRError("network has no layers")
        if self.input_features < 1:
            raise IRError(f"input_features must be >= 1, got {self.input_features}")
        if self.timesteps < 1:
            raise IRError(f"timesteps must be >= 1, got {self.timesteps}")
        fan_in = self.input_features
        names = set()
        for layer in self.layers:
            _validate_layer(layer, fan_in)
            if layer.name in names:
                raise IRError(f"layer {layer.name!r}: the name is used twice")
            names.add(layer.name)
            fan_in = layer.out_features
        if self.vote_group < 1 or self.output_features % self.vote_group:
            raise IRError(f"vote_group={self.vote_group} does not divide the "
                          f"{self.output_features} output neurons")
        return self


_LAYER_INTS = ("in_features", "out_features", "weight_bits", "membrane_bits",
               "accumulator_bits", "threshold", "leak_mult", "leak_frac_bits")


def _require_int(value: Any, key: str, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise IRError(f"{where}: {key}={value!r}; an integer is required")


def _validate_layer(layer: LIFLayer, fan_in: int) -> None:
    if not isinstance(layer.name, str) or not LAYER_NAME.match(layer.name):
        raise IRError(f"layer name {layer.name!r}: a letter, then up to 31 letters, digits or "
                      f"'_' is required (it names Verilog signals and memory files)")
    where = f"layer {layer.name!r}"
    for key in _LAYER_INTS:
        _require_int(getattr(layer, key), key, where)
    if isinstance(layer.scale, bool) or not isinstance(layer.scale, Real) or not (
            math.isfinite(layer.scale) and layer.scale > 0):
        raise IRError(f"{where}: scale={layer.scale!r}; a finite number > 0 is required")
    for key in ("weight", "bias"):
        array = getattr(layer, key)
        if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.integer):
            kind = array.dtype if isinstance(array, np.ndarray) else type(array).__name__
            raise IRError(f"{where}: {key} holds {kind} values; integers are required")
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
    if layer.accumulator_bits > ACCUMULATOR_BITS_MAX:
        raise IRError(f"{where}: accumulator_bits={layer.accumulator_bits}; allowed "
                      f"{needed}..{ACCUMULATOR_BITS_MAX}")
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


_NETWORK_KEYS = {"name": str, "timesteps": int, "input_features": int, "encoding": dict,
                 "dataset": dict, "source": dict, "layers": list}
_LAYER_KEYS = [f.name for f in fields(LIFLayer) if f.name not in ("weight", "bias")]


def load(folder: str | Path) -> Network:
    """Read and validate an IR written by :func:`save`; every problem (a missing or corrupt
    file, a missing or mistyped field, an array that is not integer) is an :class:`IRError`
    naming the file and the field."""
    folder = Path(folder)
    json_path, npz_path = folder / "network.json", folder / "network.npz"
    try:
        meta = json.loads(json_path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise IRError(f"{json_path}: no IR here (snnhw build writes ir/network.json)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IRError(f"{json_path}: cannot read IR metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        got = (meta.get("format"), meta.get("version")) if isinstance(meta, dict) else (
            type(meta).__name__, None)
        raise IRError(f"{json_path}: expected format {FORMAT!r} version {VERSION}, got "
                      f"{got[0]!r} version {got[1]!r}")
    for key, kind in _NETWORK_KEYS.items():
        if key not in meta:
            raise IRError(f"{json_path}: the field {key!r} is missing")
        if not isinstance(meta[key], kind) or isinstance(meta[key], bool):
            raise IRError(f"{json_path}: {key}={meta[key]!r}; {kind.__name__} required")
    for n, spec in enumerate(meta["layers"]):
        if not isinstance(spec, dict):
            raise IRError(f"{json_path}: layers[{n}] is {type(spec).__name__}, not a mapping")
        missing = [k for k in _LAYER_KEYS if k not in spec]
        unknown = sorted(set(spec) - set(_LAYER_KEYS))
        if missing or unknown:
            raise IRError(f"{json_path}: layers[{n}] " + (f"lacks {missing}" if missing else
                          f"has unknown fields {unknown}") + f"; a LIF layer has {_LAYER_KEYS}")
        if not isinstance(spec["name"], str) or not LAYER_NAME.match(spec["name"]):
            raise IRError(f"{json_path}: layers[{n}] name {spec['name']!r} is not a layer name "
                          f"(a letter, then letters, digits or '_')")
    try:
        with np.load(npz_path, allow_pickle=False) as arrays:
            layers = tuple(
                LIFLayer(**spec, weight=_array(arrays, f"{spec['name']}.weight", npz_path),
                         bias=_array(arrays, f"{spec['name']}.bias", npz_path))
                for spec in meta["layers"])
    except FileNotFoundError:
        raise IRError(f"{npz_path}: the IR's arrays are missing") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, IRError):
            raise
        raise IRError(f"{npz_path}: not a readable IR array file ({exc})") from None
    vote_group = meta.get("vote_group", 1)
    try:
        return Network(name=meta["name"], timesteps=meta["timesteps"],
                       input_features=meta["input_features"], layers=layers,
                       encoding=meta["encoding"], dataset=meta["dataset"],
                       source=meta["source"], vote_group=vote_group).validate()
    except IRError as exc:
        raise IRError(f"{folder}: {exc}") from None


def _array(arrays: Any, key: str, path: Path) -> np.ndarray:
    """One integer array of the npz; object arrays are refused by ``allow_pickle=False``."""
    if key not in arrays.files:
        raise IRError(f"{path}: the array {key!r} is missing")
    array = arrays[key]
    if not np.issubdtype(array.dtype, np.integer):
        raise IRError(f"{path}: {key} holds {array.dtype} values; integers are required")
    return array.astype(np.int64)


def _atomic_write(path: Path, write) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        write(fh)
