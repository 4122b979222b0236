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
                      pool: int = 1, kernels: tuple[int, ...] = (1, 2, 3, 3, 5, 7),
                      max_channels: int = 4) -> ir.ConvLIFLayer:
    """A random convolution over ``in_shape`` events: 1..``max_channels`` channels, kernels
    from ``kernels`` (as the map allows), strides 1 and 2, padding below the kernel,
    optional pooling."""
    c, h, w = in_shape
    hp, wp = h // pool, w // pool
    for _ in range(100):
        kernel = int(rng.choice(kernels))
        padding = int(rng.integers(0, kernel))
        stride = int(rng.choice([1, 2]))
        if (hp + 2 * padding - kernel) >= 0 and (wp + 2 * padding - kernel) >= 0:
            break
    weight_bits = int(rng.integers(2, 17))
    out_channels = int(rng.integers(1, max_channels + 1))
    layer = ir.ConvLIFLayer(name=name, in_shape=in_shape, out_channels=out_channels,
                            kernel_size=kernel, stride=stride, padding=padding, pool=pool,
                            weight=_weights(rng, weight_bits, (out_channels, c, kernel, kernel)),
                            **_neurons(rng, weight_bits, out_channels))
    return _exact_accumulator(layer)


def with_neunorm(rng: np.random.Generator, layer: ir.ConvLIFLayer,
                 timesteps: int) -> ir.ConvLIFLayer:
    """``layer`` with a random NeuNorm term: aux kernel of 2..12 bits (often all one sign, so
    the state runs to its bound), 0..8 fraction bits, any leak, the exact state width."""
    bits = int(rng.integers(2, 13))
    lo, hi = signed_range(bits)
    kernel = rng.integers(lo, hi + 1, size=(layer.out_channels, layer.kernel_size,
                                            layer.kernel_size))
    if rng.random() < 0.4:
        kernel = np.abs(kernel) * (1 if rng.random() < 0.5 else -1)
    leak_mult = int(rng.integers(0, (1 << layer.leak_frac_bits) + 1))
    layer = replace(layer, aux_weight=kernel.astype(np.int64),
                    aux_frac_bits=int(rng.integers(0, 9)), aux_leak_mult=leak_mult, aux_bits=64)
    bound = layer.aux_bound(timesteps)
    return replace(layer, aux_bits=signed_bits(-bound, bound))


def without_neunorm(layer: ir.ConvLIFLayer) -> ir.ConvLIFLayer:
    return replace(layer, aux_weight=None, aux_frac_bits=0, aux_leak_mult=0, aux_bits=0)


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
    aux_rng = np.random.default_rng([seed, 7])     # apart, so the layers above stay as they were
    layers = [with_neunorm(aux_rng, layer, timesteps)
              if layer.kind == "conv2d" and aux_rng.random() < 0.5 else layer
              for layer in layers]
    net = Network(name=f"conv{seed}", timesteps=timesteps, input_features=int(np.prod(shape)),
                  layers=tuple(layers), encoding={"type": "random"}, dataset={},
                  source={"seed": seed}).validate()
    samples = int(rng.integers(2, 4))
    density = rng.uniform(0.1, 0.7)
    inputs = (rng.random((timesteps, samples, net.input_features)) < density).astype(np.uint8)
    return net, inputs


def direct_values(rng: np.random.Generator, net: Network, samples: int) -> np.ndarray:
    """Random direct inputs ``[T, S, F]`` for ``net``: about half the inputs 0 (an event
    stream skips them), the rest 1..2**N-1 with the extremes often, the same every timestep."""
    top = (1 << net.input_bits) - 1
    values = rng.integers(1, top + 1, size=(samples, net.input_features))
    values = np.where(rng.random(values.shape) < 0.2, top, values)
    values = np.where(rng.random(values.shape) < 0.5, 0, values)
    return np.broadcast_to(values, (net.timesteps,) + values.shape).astype(np.uint8).copy()


def random_banked_network(seed: int) -> tuple[Network, np.ndarray]:
    """A random conv [-> pool -> conv] -> [pool ->] dense network whose convolutions can all
    bank their membranes (kernels 2, 3, 5, 7, no NeuNorm term), on maps up to 3 x 13 x 13 so
    that an output row spans several words of a bank, and dense random input spikes."""
    rng = np.random.default_rng([seed, 13])
    timesteps = int(rng.integers(1, 4))
    shape = (int(rng.integers(1, 4)), int(rng.integers(4, 14)), int(rng.integers(4, 14)))
    kernels = (2, 3, 5, 7)

    def lively(layer: ir.ConvLIFLayer) -> ir.ConvLIFLayer:
        """Mostly excitatory weights and a low threshold: the convolutions fire (a spike is
        what the check compares), with inhibitory taps and saturation still about."""
        weight = np.where(rng.random(layer.weight.shape) < 0.75, np.abs(layer.weight),
                          layer.weight).clip(*signed_range(layer.weight_bits))
        threshold = int(rng.integers(1, max(2, layer.membrane_range[1] // 4)))
        return _exact_accumulator(replace(layer, weight=weight.astype(np.int64),
                                          threshold=threshold))
    layers = [lively(random_conv_layer(rng, "conv0", shape, kernels=kernels, max_channels=6))]
    prev = layers[-1].out_shape
    if rng.random() < 0.5 and min(prev[1:]) >= 2:
        pool = 2 if min(prev[1:]) >= 4 and rng.random() < 0.5 else 1
        if min(prev[1:]) // pool >= 2:
            layers.append(lively(random_conv_layer(rng, "conv1", prev, pool, kernels=kernels)))
            prev = layers[-1].out_shape
    n = int(rng.integers(1, 9))
    weight_bits = int(rng.integers(2, 17))
    dense = LIFLayer(name=f"fc{len(layers)}", in_features=int(np.prod(prev)), out_features=n,
                     weight=_weights(rng, weight_bits, (n, int(np.prod(prev)))),
                     **_neurons(rng, weight_bits, n))
    layers.append(_exact_accumulator(dense))
    net = Network(name=f"banked{seed}", timesteps=timesteps, input_features=int(np.prod(shape)),
                  layers=tuple(layers), encoding={"type": "random"}, dataset={},
                  source={"seed": seed}).validate()
    inputs = (rng.random((timesteps, int(rng.integers(2, 4)), net.input_features))
              < rng.uniform(0.3, 0.8)).astype(np.uint8)
    return net, inputs


def random_direct_network(seed: int) -> tuple[Network, np.ndarray]:
    """A random network whose first layer (dense, or a convolution with optional pooling)
    takes a direct input of 2..8 bits, then one dense layer of spikes; random values held
    for the whole sample."""
    rng = np.random.default_rng(seed)
    input_bits = int(rng.choice([2, 3, 5, 8]))
    if seed % 2:
        net, _ = random_conv_network(seed)
        first = without_neunorm(net.layers[0])
        if rng.random() < 0.5 and min(first.in_shape[1:]) >= 4:
            first = random_conv_layer(rng, "conv0", first.in_shape, pool=2)
        first = _exact_accumulator(replace(first, input_bits=input_bits))
        rest = net.layers[1:] if first.out_shape == net.layers[0].out_shape else ()
        if not rest:
            n = int(rng.integers(1, 7))
            rest = (_exact_accumulator(LIFLayer(
                name="fc1", in_features=first.out_features, out_features=n,
                weight=_weights(rng, 8, (n, first.out_features)), **_neurons(rng, 8, n))),)
        layers = (first,) + tuple(rest)
        features = first.in_features
    else:
        features = int(rng.integers(1, 24))
        first = _exact_accumulator(replace(random_layer(rng, "fc0", features),
                                           input_bits=input_bits))
        layers = (first, random_layer(rng, "fc1", first.out_features))
    net = Network(name=f"direct{seed}", timesteps=int(rng.integers(1, 5)),
                  input_features=features, layers=layers, encoding={"type": "direct"},
                  dataset={}, source={"seed": seed}).validate()
    return net, direct_values(rng, net, int(rng.integers(2, 4)))


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
FRONTS = ("dense", "conv", "conv2")      # the layers before the dense ones
INPUT_BITS = (1, 1, 2, 8)                # spikes, or a direct input of 2 or 8 bits


@dataclass(frozen=True)
class FuzzCase:
    """One fuzzed check: a network, its input spikes ``[T, S, F]`` and the hardware form
    (``membrane_memory="banked"`` banks the convolutions that can, :func:`membrane_styles`)."""

    net: Network
    inputs: np.ndarray
    lanes: int
    weight_memory: str
    stall_seed: int
    membrane_memory: str = "bram"


def _fuzz_neurons(draw, rng: np.random.Generator, name: str, shape: tuple[int, ...]) -> dict:
    """Weights of ``shape`` (rows first) and the LIF fields of one fuzzed layer."""
    n = shape[0]
    weight_bits = draw(st.integers(2, 16), label=f"{name}.weight_bits")
    membrane_bits = draw(st.integers(max(2, weight_bits - 1), weight_bits + 6),
                         label=f"{name}.membrane_bits")
    mode = draw(st.sampled_from(WEIGHT_MODES), label=f"{name}.weights")
    w_lo, w_hi = signed_range(weight_bits)
    weight = rng.integers(w_lo, w_hi + 1, size=shape)
    if mode == "excitatory":
        weight = np.abs(weight).clip(0, w_hi)
    elif mode == "extreme":
        weight = rng.choice([w_lo, w_hi], size=shape)
    elif mode == "zero":
        weight = np.zeros(shape, dtype=np.int64)
    m_lo, m_hi = signed_range(membrane_bits)
    threshold = draw(st.one_of(st.just(1), st.just(m_hi), st.integers(1, m_hi)),
                     label=f"{name}.threshold")
    bias = rng.integers(m_lo // 4, m_hi // 4 + 1, size=n) if draw(
        st.booleans(), label=f"{name}.has_bias") else np.zeros(n, dtype=np.int64)
    leak_frac_bits = draw(st.integers(0, 10), label=f"{name}.leak_frac_bits")
    leak_mult = draw(st.one_of(st.just(0), st.just(1 << leak_frac_bits),
                               st.integers(0, 1 << leak_frac_bits)), label=f"{name}.leak_mult")
    return dict(weight_bits=weight_bits, membrane_bits=membrane_bits, accumulator_bits=64,
                threshold=threshold, leak_mult=leak_mult, leak_frac_bits=leak_frac_bits,
                reset=draw(st.sampled_from(["zero", "subtract"]), label=f"{name}.reset"),
                scale=1.0, weight=weight.astype(np.int64), bias=bias.astype(np.int64))


def _fuzz_layer(draw, rng: np.random.Generator, name: str, fan_in: int,
                pool: int = 1, in_shape: tuple[int, int, int] | None = None,
                input_bits: int = 1) -> LIFLayer:
    n = draw(st.integers(1, 16), label=f"{name}.neurons")
    synapses = (in_shape[0] * (in_shape[1] // pool) * (in_shape[2] // pool) if pool > 1
                else fan_in)
    layer = LIFLayer(name=name, in_features=fan_in, out_features=n, pool=pool,
                     in_shape=in_shape if pool > 1 else None, input_bits=input_bits,
                     **_fuzz_neurons(draw, rng, name, (n, synapses)))
    return _exact_accumulator(layer)


def _fuzz_conv_layer(draw, rng: np.random.Generator, name: str, in_shape: tuple[int, int, int],
                     pool: int, timesteps: int, input_bits: int = 1) -> ir.ConvLIFLayer:
    """Kernels 1..7, strides 1 and 2, padding 0..K-1 (raised where the map is smaller than
    the kernel), 1-4 output channels; on spikes, with or without a NeuNorm term."""
    _, h, w = in_shape
    kernel = draw(st.integers(1, 7), label=f"{name}.kernel")
    padding = draw(st.integers(0, kernel - 1), label=f"{name}.padding")
    padding = max(padding, -(-(kernel - min(h // pool, w // pool)) // 2))
    channels = draw(st.integers(1, 4), label=f"{name}.channels")
    layer = ir.ConvLIFLayer(
        name=name, in_shape=in_shape, out_channels=channels, kernel_size=kernel,
        stride=draw(st.sampled_from([1, 2]), label=f"{name}.stride"), padding=padding,
        pool=pool, input_bits=input_bits,
        **_fuzz_neurons(draw, rng, name, (channels, in_shape[0], kernel, kernel)))
    if input_bits == 1 and draw(st.booleans(), label=f"{name}.neunorm"):
        layer = with_neunorm(rng, layer, timesteps)
    return _exact_accumulator(layer)


@st.composite
def fuzz_cases(draw) -> FuzzCase:
    """A random network (dense layers of 1-16 neurons, behind one or two convolutions on a map
    up to 3 x 8 x 8 when the front is "conv"/"conv2", with or without NeuNorm terms; 2x2
    pooling into conv and dense layers;
    weights 2..16 bits, membranes from the weight width up, both resets, leaks 0..2^F), whose
    first layer takes spikes or a direct 2- or 8-bit input, 1-4 samples of 1-6 timesteps whose
    inputs are random, all-silent, all-firing (direct: every value at its maximum) or random
    with empty timesteps (spikes only), and lanes 1..16 with ROM or run-time loaded
    weights, the convolutions' membranes in one memory or banked."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="contents_seed"))
    timesteps = draw(st.integers(1, 6), label="timesteps")
    front = draw(st.sampled_from(FRONTS), label="front")
    input_bits = draw(st.sampled_from(INPUT_BITS), label="input_bits")
    layers: list = []
    if front == "dense":
        features = draw(st.integers(1, 24), label="input_features")
        shape: tuple[int, ...] = (features,)
    else:
        shape = (draw(st.integers(1, 3), label="map.channels"),
                 draw(st.integers(1, 8), label="map.height"),
                 draw(st.integers(1, 8), label="map.width"))
        features = int(np.prod(shape))
        for k in range(1 if front == "conv" else 2):
            pool = 2 if k and min(shape[1:]) >= 2 and draw(
                st.booleans(), label=f"conv{k}.pool") else 1
            layers.append(_fuzz_conv_layer(draw, rng, f"conv{k}", shape, pool, timesteps,
                                           input_bits if k == 0 else 1))
            shape = layers[-1].out_shape
    for k in range(len(layers), len(layers) + draw(st.integers(1, 3 - len(layers) // 2),
                                                  label="dense_layers")):
        pool = 2 if len(shape) == 3 and min(shape[1:]) >= 2 and draw(
            st.booleans(), label=f"fc{k}.pool") else 1
        in_shape = shape if len(shape) == 3 else None
        layers.append(_fuzz_layer(draw, rng, f"fc{k}", int(np.prod(shape)), pool, in_shape,
                                  input_bits if k == 0 else 1))
        shape = layers[-1].out_shape
    net = Network(name="fuzzed", timesteps=timesteps, input_features=features,
                  layers=tuple(layers), encoding={"type": "random"}, dataset={},
                  source={"fuzz": True}).validate()
    samples = draw(st.integers(1, 4), label="samples")
    mode = draw(st.sampled_from(INPUT_MODES), label="inputs")
    shape = (timesteps, samples, features)
    top = (1 << input_bits) - 1
    if mode == "silent":
        inputs = np.zeros(shape, dtype=np.uint8)
    elif mode == "firing":
        inputs = np.full(shape, top, dtype=np.uint8)
    elif input_bits > 1:                     # the same values at every timestep
        values = rng.integers(1, top + 1, size=shape[1:]) * (
            rng.random(shape[1:]) < rng.uniform(0.1, 0.9))
        inputs = np.broadcast_to(values, shape).astype(np.uint8).copy()
    else:
        inputs = (rng.random(shape) < rng.uniform(0.1, 0.9)).astype(np.uint8)
        if mode == "sparse_steps":
            inputs[rng.random(timesteps) < 0.5] = 0
    return FuzzCase(net=net, inputs=inputs, lanes=draw(st.sampled_from(LANES), label="lanes"),
                    weight_memory=draw(st.sampled_from(["rom", "spram"]),
                                       label="weight_memory"),
                    stall_seed=draw(st.integers(0, 2**16), label="stall_seed"),
                    membrane_memory=draw(st.sampled_from(["bram", "banked"]),
                                         label="membrane_memory"))


def save_case(case: FuzzCase, folder: Path) -> Path:
    """A fuzzed case as an IR folder (``ir/network.json``, ``.npz``) with its inputs
    (``inputs.npy``, ``[T, S, F]``) and hardware form (``case.json``); replaced whole."""
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    ir.save(case.net, staging / "ir")
    np.save(staging / "inputs.npy", case.inputs)
    (staging / "case.json").write_text(json.dumps(
        {"lanes": case.lanes, "weight_memory": case.weight_memory,
         "membrane_memory": case.membrane_memory, "stall_seed": case.stall_seed},
        indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return folder


def load_case(folder: Path) -> FuzzCase:
    """The case :func:`save_case` wrote."""
    form = json.loads((folder / "case.json").read_text())
    return FuzzCase(net=ir.load(folder / "ir"), inputs=np.load(folder / "inputs.npy"),
                    lanes=form["lanes"], weight_memory=form["weight_memory"],
                    stall_seed=form["stall_seed"],
                    membrane_memory=form.get("membrane_memory", "bram"))


def small_conv_network(seed: int = 0) -> tuple[Network, np.ndarray]:
    """A fixed small conv net for synthesis: 2x8x8 spikes -> 4C3 (padding 1) -> 2x2 pool ->
    4C3 (stride 2, padding 1) -> 5 dense, 8-bit weights, random but excitatory enough that
    every layer fires; T = 4, 4 samples."""
    rng = np.random.default_rng(seed)

    def neurons(n: int, threshold: int) -> dict:
        return dict(weight_bits=8, membrane_bits=14, accumulator_bits=64, threshold=threshold,
                    leak_mult=192, leak_frac_bits=8, reset="subtract", scale=1.0,
                    bias=rng.integers(-8, 9, size=n).astype(np.int64))

    conv0 = ir.ConvLIFLayer(name="conv0", in_shape=(2, 8, 8), out_channels=4, kernel_size=3,
                            stride=1, padding=1, weight=rng.integers(-40, 128, (4, 2, 3, 3)),
                            **neurons(4, 200))
    conv1 = ir.ConvLIFLayer(name="conv1", in_shape=(4, 8, 8), out_channels=4, kernel_size=3,
                            stride=2, padding=1, pool=2,
                            weight=rng.integers(-40, 128, (4, 4, 3, 3)), **neurons(4, 300))
    fc2 = LIFLayer(name="fc2", in_features=16, out_features=5,
                   weight=rng.integers(-64, 128, (5, 16)), **neurons(5, 150))
    net = Network(name="small_conv", timesteps=4, input_features=128,
                  layers=tuple(_exact_accumulator(l) for l in (conv0, conv1, fc2)),
                  encoding={"type": "random"}, dataset={}, source={"seed": seed}).validate()
    inputs = (rng.random((4, 4, 128)) < 0.3).astype(np.uint8)
    return net, inputs


def as_readout(layer: LIFLayer) -> ir.LIReadoutLayer:
    """``layer``'s synapses and neurons as a leaky-integrator readout (no threshold, no
    reset)."""
    return ir.LIReadoutLayer(
        name=f"li{layer.name}", in_features=layer.in_features, out_features=layer.out_features,
        weight_bits=layer.weight_bits, membrane_bits=layer.membrane_bits,
        accumulator_bits=layer.accumulator_bits, leak_mult=layer.leak_mult,
        leak_frac_bits=layer.leak_frac_bits, scale=layer.scale, weight=layer.weight,
        bias=layer.bias, pool=layer.pool, in_shape=layer.in_shape, input_bits=layer.input_bits)


def random_readout_network(seed: int) -> tuple[Network, np.ndarray]:
    """:func:`random_network`'s network with its last layer a leaky-integrator readout."""
    net, inputs = random_network(seed)
    layers = net.layers[:-1] + (as_readout(net.layers[-1]),)
    return replace(net, name=f"readout{seed}", layers=layers).validate(), inputs
