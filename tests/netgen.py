"""Random integer networks for the golden-vs-RTL tests (built directly as IR)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

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
