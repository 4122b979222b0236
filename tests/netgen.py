"""Random integer networks for the golden-vs-RTL tests (built directly as IR): seeded ones
and a hypothesis strategy for property-based fuzzing."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from snnhw import ir
from snnhw.hdl.layout import LANES
from snnhw.ir import LIFLayer, Network, signed_bits, signed_range


def random_layer(rng: np.random.Generator, name: str, fan_in: int) -> LIFLayer:
    n = int(rng.integers(1, 13))
    weight_bits = int(rng.integers(2, 17))
    w_lo, w_hi = signed_range(weight_bits)
    weight = rng.integers(w_lo, w_hi + 1, size=(n, fan_in))
    if rng.random() < 0.4:                       # excitatory: drives the membrane to the top
        weight = np.abs(weight).clip(0, w_hi)
    # a narrow membrane (as narrow as the weights) makes saturation common
    membrane_bits = int(rng.integers(max(2, weight_bits - 1), weight_bits + 5))
    m_lo, m_hi = signed_range(membrane_bits)
    threshold = int(rng.integers(1, m_hi + 1))
    bias = rng.integers(m_lo // 4, m_hi // 4 + 1, size=n)
    leak_frac_bits = int(rng.integers(0, 11))
    leak_mult = int(rng.integers(0, (1 << leak_frac_bits) + 1))
    if rng.random() < 0.2:
        leak_mult = 1 << leak_frac_bits          # no leak: integrate-and-fire
    layer = LIFLayer(name=name, in_features=fan_in, out_features=n, weight_bits=weight_bits,
                     membrane_bits=membrane_bits, accumulator_bits=64, threshold=threshold,
                     leak_mult=leak_mult, leak_frac_bits=leak_frac_bits,
                     reset=str(rng.choice(["zero", "subtract"])), scale=1.0,
                     weight=weight.astype(np.int64), bias=bias.astype(np.int64))
    return replace(layer, accumulator_bits=signed_bits(*layer.accumulator_bounds()))


def _neurons(rng: np.random.Generator, weight_bits: int, n: int) -> dict:
    """Random LIF fields as random_layer draws them, with ``n`` biases."""
    membrane_bits = int(rng.integers(max(2, weight_bits - 1), weight_bits + 5))
    m_lo, m_hi = signed_range(membrane_bits)
    leak_frac_bits = int(rng.integers(0, 11))
    leak_mult = int(rng.integers(0, (1 << leak_frac_bits) + 1))
    if rng.random() < 0.2:
        leak_mult = 1 << leak_frac_bits          # no leak: integrate-and-fire
    return dict(weight_bits=weight_bits, membrane_bits=membrane_bits, accumulator_bits=64,
                threshold=int(rng.integers(1, m_hi + 1)), leak_mult=leak_mult,
                leak_frac_bits=leak_frac_bits, reset=str(rng.choice(["zero", "subtract"])),
                scale=1.0, bias=rng.integers(m_lo // 4, m_hi // 4 + 1, size=n).astype(np.int64))


def _weights(rng: np.random.Generator, weight_bits: int, shape: tuple[int, ...]) -> np.ndarray:
    w_lo, w_hi = signed_range(weight_bits)
    weight = rng.integers(w_lo, w_hi + 1, size=shape)
    if rng.random() < 0.4:                       # excitatory: drives the membrane to the top
        weight = np.abs(weight).clip(0, w_hi)
    return weight.astype(np.int64)


def _exact_accumulator(layer):
    return replace(layer, accumulator_bits=signed_bits(*layer.accumulator_bounds()))


def random_conv_layer(rng: np.random.Generator, name: str, in_shape: tuple[int, int, int],
                      pool: int = 1) -> ir.ConvLIFLayer:
    """A random convolution over ``in_shape`` events: 1-4 channels, kernels 1..5 (7 when the
    map allows), strides 1 and 2, padding below the kernel, optional pooling."""
    c, h, w = in_shape
    hp, wp = h // pool, w // pool
    for _ in range(100):
        kernel = int(rng.choice([1, 2, 3, 3, 5, 7]))
        padding = int(rng.integers(0, kernel))
        stride = int(rng.choice([1, 2]))
        if (hp + 2 * padding - kernel) >= 0 and (wp + 2 * padding - kernel) >= 0:
            break
    weight_bits = int(rng.integers(2, 17))
    out_channels = int(rng.integers(1, 5))
    layer = ir.ConvLIFLayer(name=name, in_shape=in_shape, out_channels=out_channels,
                            kernel_size=kernel, stride=stride, padding=padding, pool=pool,
                            weight=_weights(rng, weight_bits, (out_channels, c, kernel, kernel)),
                            **_neurons(rng, weight_bits, out_channels))
    return _exact_accumulator(layer)


def random_conv_network(seed: int) -> tuple[Network, np.ndarray]:
    """A random conv [-> pool -> conv] -> [pool ->] dense network on small maps (up to
    3 x 9 x 9) and random input spikes ``[T, S, C*H*W]``."""
    rng = np.random.default_rng(seed)
    timesteps = int(rng.integers(1, 5))
    shape = (int(rng.integers(1, 4)), int(rng.integers(3, 10)), int(rng.integers(3, 10)))
    layers = [random_conv_layer(rng, "conv0", shape)]
    if rng.random() < 0.5:
        prev = layers[-1].out_shape
        pool = 2 if min(prev[1:]) >= 2 and rng.random() < 0.6 else 1
        layers.append(random_conv_layer(rng, "conv1", prev, pool))
    prev = layers[-1].out_shape
    pool = 2 if min(prev[1:]) >= 2 and rng.random() < 0.5 else 1
    weight_bits = int(rng.integers(2, 17))
    n = int(rng.integers(1, 9))
    dense = LIFLayer(name=f"fc{len(layers)}", in_features=int(np.prod(prev)), out_features=n,
                     pool=pool, in_shape=prev if pool > 1 else None,
                     weight=_weights(rng, weight_bits, (n, prev[0] * (prev[1] // pool)
                                                        * (prev[2] // pool)) if pool > 1
                                     else (n, int(np.prod(prev)))),
                     **_neurons(rng, weight_bits, n))
    layers.append(_exact_accumulator(dense))
    net = Network(name=f"conv{seed}", timesteps=timesteps, input_features=int(np.prod(shape)),
                  layers=tuple(layers), encoding={"type": "random"}, dataset={},
                  source={"seed": seed}).validate()
    samples = int(rng.integers(2, 4))
    density = rng.uniform(0.1, 0.7)
    inputs = (rng.random((timesteps, samples, net.input_features)) < density).astype(np.uint8)
    return net, inputs


def random_network(seed: int) -> tuple[Network, np.ndarray]:
    """A random 1-3 layer network and random input spikes ``[T, S, F]`` for it."""
    rng = np.random.default_rng(seed)
    timesteps = int(rng.integers(1, 7))
    features = int(rng.integers(1, 24))
    layers = []
    fan_in = features
    for k in range(int(rng.integers(1, 4))):
        layers.append(random_layer(rng, f"fc{k}", fan_in))
        fan_in = layers[-1].out_features
    net = Network(name=f"random{seed}", timesteps=timesteps, input_features=features,
                  layers=tuple(layers), encoding={"type": "random"}, dataset={},
                  source={"seed": seed}).validate()
    samples = int(rng.integers(2, 5))
    density = rng.uniform(0.2, 0.9)
    inputs = (rng.random((timesteps, samples, features)) < density).astype(np.uint8)
    return net, inputs


def spram_sized_network() -> tuple[Network, np.ndarray]:
    """640-32 at 8 bits, 160 kbit of weights at P = 2 (one SPRAM wide): Yosys prefers SPRAM
    over the 40 EBRs it would take; random weights and input spikes."""
    rng = np.random.default_rng(3)
    layer = LIFLayer(name="fc0", in_features=640, out_features=32, weight_bits=8,
                     membrane_bits=16, accumulator_bits=17, threshold=300, leak_mult=230,
                     leak_frac_bits=8, reset="subtract", scale=1.0,
                     weight=rng.integers(-128, 128, size=(32, 640)).astype(np.int64),
                     bias=rng.integers(-20, 21, size=32).astype(np.int64))
    net = Network(name="spram_sized", timesteps=3, input_features=640, layers=(layer,),
                  encoding={}, dataset={}, source={})
    return net, (rng.random((3, 2, 640)) < 0.08).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Property-based fuzzing (hypothesis): the structure of a network is drawn (and shrinks: fewer
# layers and neurons, narrower words, shorter runs), its integer contents come from a drawn
# seed in one of a few modes that reach the edges (saturation, all-silent, all-firing).

WEIGHT_MODES = ("random", "excitatory", "extreme", "zero")
INPUT_MODES = ("random", "silent", "firing", "sparse_steps")


@dataclass(frozen=True)
class FuzzCase:
    """One fuzzed check: a network, its input spikes ``[T, S, F]`` and the hardware form."""

    net: Network
    inputs: np.ndarray
    lanes: int
    weight_memory: str
    stall_seed: int


def _fuzz_layer(draw, rng: np.random.Generator, name: str, fan_in: int) -> LIFLayer:
    n = draw(st.integers(1, 16), label=f"{name}.neurons")
    weight_bits = draw(st.integers(2, 16), label=f"{name}.weight_bits")
    membrane_bits = draw(st.integers(max(2, weight_bits - 1), weight_bits + 6),
                         label=f"{name}.membrane_bits")
    mode = draw(st.sampled_from(WEIGHT_MODES), label=f"{name}.weights")
    w_lo, w_hi = signed_range(weight_bits)
    weight = rng.integers(w_lo, w_hi + 1, size=(n, fan_in))
    if mode == "excitatory":
        weight = np.abs(weight).clip(0, w_hi)
    elif mode == "extreme":
        weight = rng.choice([w_lo, w_hi], size=(n, fan_in))
    elif mode == "zero":
        weight = np.zeros((n, fan_in), dtype=np.int64)
    m_lo, m_hi = signed_range(membrane_bits)
    threshold = draw(st.one_of(st.just(1), st.just(m_hi), st.integers(1, m_hi)),
                     label=f"{name}.threshold")
    bias = rng.integers(m_lo // 4, m_hi // 4 + 1, size=n) if draw(
        st.booleans(), label=f"{name}.has_bias") else np.zeros(n, dtype=np.int64)
    leak_frac_bits = draw(st.integers(0, 10), label=f"{name}.leak_frac_bits")
    leak_mult = draw(st.one_of(st.just(0), st.just(1 << leak_frac_bits),
                               st.integers(0, 1 << leak_frac_bits)), label=f"{name}.leak_mult")
    layer = LIFLayer(name=name, in_features=fan_in, out_features=n, weight_bits=weight_bits,
                     membrane_bits=membrane_bits, accumulator_bits=64, threshold=threshold,
                     leak_mult=leak_mult, leak_frac_bits=leak_frac_bits,
                     reset=draw(st.sampled_from(["zero", "subtract"]), label=f"{name}.reset"),
                     scale=1.0, weight=weight.astype(np.int64), bias=bias.astype(np.int64))
    return replace(layer, accumulator_bits=signed_bits(*layer.accumulator_bounds()))


@st.composite
def fuzz_cases(draw) -> FuzzCase:
    """A random network (1-3 layers of 1-16 neurons, weights 2..16 bits, membranes from the
    weight width up, both resets, leaks 0..2^F), 1-4 samples of 1-6 timesteps whose inputs
    are random, all-silent, all-firing or random with empty timesteps, and lanes 1..16 with
    ROM or run-time loaded weights."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="contents_seed"))
    timesteps = draw(st.integers(1, 6), label="timesteps")
    features = draw(st.integers(1, 24), label="input_features")
    layers, fan_in = [], features
    for k in range(draw(st.integers(1, 3), label="layers")):
        layers.append(_fuzz_layer(draw, rng, f"fc{k}", fan_in))
        fan_in = layers[-1].out_features
    net = Network(name="fuzzed", timesteps=timesteps, input_features=features,
                  layers=tuple(layers), encoding={"type": "random"}, dataset={},
                  source={"fuzz": True}).validate()
    samples = draw(st.integers(1, 4), label="samples")
    mode = draw(st.sampled_from(INPUT_MODES), label="inputs")
    shape = (timesteps, samples, features)
    if mode == "silent":
        inputs = np.zeros(shape, dtype=np.uint8)
    elif mode == "firing":
        inputs = np.ones(shape, dtype=np.uint8)
    else:
        inputs = (rng.random(shape) < rng.uniform(0.1, 0.9)).astype(np.uint8)
        if mode == "sparse_steps":
            inputs[rng.random(timesteps) < 0.5] = 0
    return FuzzCase(net=net, inputs=inputs, lanes=draw(st.sampled_from(LANES), label="lanes"),
                    weight_memory=draw(st.sampled_from(["rom", "spram"]),
                                       label="weight_memory"),
                    stall_seed=draw(st.integers(0, 2**16), label="stall_seed"))


def save_case(case: FuzzCase, folder: Path) -> Path:
    """A fuzzed case as an IR folder (``ir/network.json``, ``.npz``) with its inputs
    (``inputs.npy``, ``[T, S, F]``) and hardware form (``case.json``); replaced whole."""
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    ir.save(case.net, staging / "ir")
    np.save(staging / "inputs.npy", case.inputs)
    (staging / "case.json").write_text(json.dumps(
        {"lanes": case.lanes, "weight_memory": case.weight_memory,
         "stall_seed": case.stall_seed}, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return folder


def load_case(folder: Path) -> FuzzCase:
    """The case :func:`save_case` wrote."""
    form = json.loads((folder / "case.json").read_text())
    return FuzzCase(net=ir.load(folder / "ir"), inputs=np.load(folder / "inputs.npy"),
                    lanes=form["lanes"], weight_memory=form["weight_memory"],
                    stall_seed=form["stall_seed"])
