"""Leaky-integrator readouts (``LIReadoutLayer``, NIR's ``LI``): the golden model's arithmetic
at its edges, the torch integer mode, the IR file, quantization of a float model, and the
RTL's membranes against the golden ones on the fast harness and on cocotb/Icarus, including
a wrong membrane pinned to its sample, timestep and neuron."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from snnhw import SnnhwError, golden, ir
from snnhw.build import verify_network
from snnhw.cosim import run_cosim
from snnhw.harness import verify_fast
from snnhw.hdl.layout import LANES
from snnhw.nn import SpikingNetwork
from snnhw.quant import integer_torch_model, quantize

from netgen import as_readout, random_conv_network, random_network, random_readout_network

READOUT_SEEDS = [0, 1, 2, 3, 5]


def _one_neuron(**fields) -> ir.Network:
    layer = ir.LIReadoutLayer(
        name="li0", in_features=2, out_features=1, weight_bits=4, membrane_bits=4,
        accumulator_bits=6, leak_mult=1, leak_frac_bits=1, scale=1.0,
        weight=np.array([[7, -8]]), bias=np.array([1]))
    layer = replace(layer, **fields)
    return ir.Network(name="one", timesteps=4, input_features=2, layers=(layer,),
                      encoding={}, dataset={}, source={}).validate()


def test_readout_integrates_saturates_and_leaks_toward_zero_without_firing():
    """u[t] = sat(leak(u[t-1]) + W s[t] + b) with leak 1/2 toward zero, 4-bit membrane
    (-8..7): the output is u itself, never a spike or a reset."""
    net = _one_neuron()
    x = np.array([[1, 0], [1, 0], [0, 1], [0, 0]], dtype=np.uint8)[:, None, :]
    trace = golden.run(net, x)
    # t0: 7 + 1 = 8 -> 7 (saturated); t1: 3 + 7 + 1 = 11 -> 7; t2: 3 - 8 + 1 = -4;
    # t3: trunc(-4 / 2) + 1 = -1
    assert trace.values[:, 0, 0].tolist() == [7, 7, -4, -1]
    assert trace.saturations == [2]
    assert trace.spikes[-1].tolist() == [[[1]]] * 4       # one event per neuron per timestep
    assert np.array_equal(trace.output, trace.values)


def test_predict_takes_the_largest_membrane_summed_over_time():
    """Sums -1, 6, 8: class 2, where the last membranes or the maxima over time say 1."""
    values = np.array([[[5, -3, 4]], [[-6, 9, 4]]])          # [T=2, B=1, N=3]
    assert golden.predict(values).tolist() == [2]
    assert golden.predict(values[:, :, :2]).tolist() == [1]


def test_readouts_match_the_torch_integer_mode_and_survive_the_ir_file(tmp_path):
    for seed in READOUT_SEEDS:
        net, inputs = random_readout_network(seed)
        trace = golden.run(net, inputs)
        x = torch.from_numpy(inputs)
        for layer in integer_torch_model(net):
            x = layer(x)
        assert np.array_equal(x.numpy().astype(np.int64), trace.values), seed
        ir.save(net, tmp_path / str(seed))
        again = ir.load(tmp_path / str(seed))
        assert again.layers[-1].kind == "li" and not again.layers[-1].fires
        assert np.array_equal(golden.run(again, inputs).values, trace.values)


def test_a_readout_must_be_the_last_layer():
    net, _ = random_network(1)
    assert len(net.layers) >= 2
    early = (as_readout(net.layers[0]), *net.layers[1:])
    with pytest.raises(ir.IRError, match="must be the last layer"):
        replace(net, layers=early).validate()


def _float_readout_model(sizes: tuple[int, int, int], *, tau: float, threshold: float,
                         readout_tau: float, timesteps: int
                         ) -> tuple[SpikingNetwork, dict]:
    """A random float MLP ``sizes[0]-sizes[1]-sizes[2]``, LIF then an LI readout, and its
    model.pt payload."""
    arch = [{"type": "dense", "in_features": sizes[0], "out_features": sizes[1], "bias": True},
            {"type": "lif", "tau": tau, "threshold": threshold, "reset": "zero"},
            {"type": "dense", "in_features": sizes[1], "out_features": sizes[2], "bias": True},
            {"type": "li", "tau": readout_tau}]
    net = SpikingNetwork(arch)
    return net, {"name": "li", "architecture": arch, "state_dict": net.state_dict(),
                 "encoding": {"type": "bernoulli", "timesteps": timesteps, "seed": 0},
                 "dataset": {"name": "none"}}


def test_a_float_li_readout_quantizes_to_the_ir_readout():
    torch.manual_seed(0)
    float_net, model = _float_readout_model((12, 16, 4), tau=0.75, threshold=1.0,
                                            readout_tau=0.5, timesteps=8)
    arch = model["architecture"]
    net = quantize(model, weight_bits=12)
    readout = net.layers[-1]
    assert isinstance(readout, ir.LIReadoutLayer) and readout.leak_mult == 128
    x = (torch.rand(8, 64, 12) < 0.4).to(torch.float32)
    with torch.no_grad():
        hidden: list[torch.Tensor] = []
        float_out = float_net(x, hidden)
    assert len(hidden) == 1        # the spikes of the LIF layer; the readout's are the output
    trace = golden.run(net, x.numpy().astype(np.uint8))
    # the hidden spikes agree where no membrane sits at the threshold; the readout's
    # membranes then agree to the rounding of 12-bit weights
    same = (trace.spikes[0] == hidden[0].numpy()).all(axis=(0, 2))
    assert same.mean() > 0.9
    scaled = trace.values[:, same] * readout.scale
    assert np.abs(scaled - float_out.numpy()[:, same]).max() < 0.02 * np.abs(scaled).max()
    assert (golden.predict(trace.values)[same]
            == float_out.sum(0).argmax(1).numpy()[same]).mean() > 0.95
    bad = [dict(s) for s in arch[:2]] + [{"type": "li", "tau": 0.5}, dict(arch[2]),
                                          dict(arch[3])]
    with pytest.raises(SnnhwError, match="follows no dense or conv2d layer"):
        quantize({**model, "architecture": bad}, weight_bits=8)


@pytest.mark.parametrize("seed", READOUT_SEEDS)
def test_readout_networks_are_bit_exact_on_the_fast_harness(seed, tmp_path):
    """Every layer's events and every readout membrane, with and without stalls; the RTL's
    own answer (membranes summed per neuron) equals the golden model's; the cycle model is
    exact (one output event per neuron and timestep)."""
    net, inputs = random_readout_network(seed)
    check = verify_network(net, inputs, tmp_path, sim="fast", lanes=LANES[seed % len(LANES)],
                           stall=0.3, seed=seed, log=lambda s: None)
    for name, result in check.results.items():
        assert result["mismatches"] == 0, (name, result["first_mismatches"])
        assert result["layer_events"] == [int(s.sum()) for s in check.trace.spikes]
    counts = np.asarray(check.full_rate["output_counts"]).reshape(inputs.shape[1], -1)
    assert np.array_equal(counts, check.trace.values.sum(axis=0))
    assert check.full_rate["total_cycles"] == check.estimate.total


def test_a_readout_of_a_pooled_convolution_is_bit_exact(tmp_path):
    """A convolution, 2 x 2 sum pooling of its spikes into the readout (events re-indexed on
    their way in): membranes bit-exact on the fast harness, cycle model exact."""
    net, inputs = random_conv_network(0)
    last = net.layers[-1]
    assert last.kind == "dense" and last.pool == 2
    net = replace(net, layers=(*net.layers[:-1], as_readout(last))).validate()
    check = verify_network(net, inputs, tmp_path, sim="fast", lanes=2, stall=0.3, seed=0,
                           log=lambda s: None)
    for name, result in check.results.items():
        assert result["mismatches"] == 0, (name, result["first_mismatches"])
    assert check.full_rate["total_cycles"] == check.estimate.total


def test_a_wrong_membrane_is_pinned_to_its_sample_timestep_and_neuron(tmp_path):
    net, inputs = random_readout_network(0)
    check = verify_network(net, inputs, tmp_path, sim=None, lanes=2, log=lambda s: None)
    wrong = check.trace.values.copy()
    t, s, n = 2, 1, 3
    wrong[t, s, n] += 1
    results = verify_fast(tmp_path, net, inputs, check.trace.spikes, values=wrong, load=b"",
                          stall=0.3, seed=1, cycle_budget=2 * check.estimate.total + 10_000)
    for run in results.values():
        assert run["mismatches"] == 1
        first = run["first_mismatches"][0]
        assert (first["sample"], first["timestep"], first["layer"], first["neuron"]) == (
            s, t, len(net.layers) - 1, n)
        assert (first["golden"], first["rtl"]) == (wrong[t, s, n], wrong[t, s, n] - 1)
    with pytest.raises(ValueError, match="readout"):
        verify_fast(tmp_path, net, inputs, check.trace.spikes, load=b"", stall=0.0, seed=1,
                    cycle_budget=10_000)


def test_readout_on_cocotb_icarus_agrees_and_catches_a_wrong_membrane(tmp_path):
    net, inputs = random_readout_network(2)
    check = verify_network(net, inputs, tmp_path, sim="icarus", lanes=4, stall=0.3, seed=2,
                           log=lambda s: None)
    for name, result in check.results.items():
        assert result["mismatches"] == 0, (name, result["first_mismatches"])
    assert check.full_rate["total_cycles"] == check.estimate.total
    vectors = dict(np.load(tmp_path / "cosim" / "vectors.npz"))
    assert int(vectors["value_bits_out"]) == net.layers[-1].membrane_bits
    vectors["expected"] = vectors["expected"].copy()
    vectors["expected"][1, 0, 2] -= 1
    np.savez(tmp_path / "wrong.npz", **vectors)
    results = run_cosim(tmp_path, top="snn_top", sim="icarus", stall=0.0,
                        vectors=tmp_path / "wrong.npz", build_dir=tmp_path / "wrong_build")
    for result in results.values():
        assert result["mismatches"] == 1
        first = result["first_mismatches"][0]
        assert (first["sample"], first["timestep"], first["neuron"]) == (0, 1, 2)
        assert first["rtl"] == first["golden"] + 1


def test_an_li_readout_exports_to_nir_and_imports_back_to_the_same_membranes(tmp_path):
    import nir

    from snnhw.interop.importer import SampleData, import_model
    from snnhw.interop.nir_read import ImportOptions, read_graph
    from snnhw.interop.nir_write import write_nir

    torch.manual_seed(1)
    net, model = _float_readout_model((20, 12, 5), tau=0.8, threshold=0.5, readout_tau=0.75,
                                      timesteps=6)
    arch = model["architecture"]
    path = write_nir(model, tmp_path / "li.nir")
    assert isinstance(read_graph(path).nodes["li3"], nir.LI)
    x = (torch.rand(6, 32, 20) < 0.5).float()
    np.savez(tmp_path / "x.npz", inputs=x.permute(1, 0, 2).numpy().astype(np.uint8),
             labels=np.zeros(32, dtype=np.int64))
    back = import_model(path, ImportOptions("snnhw"), SampleData(str(tmp_path / "x.npz")))
    assert [s["type"] for s in back["architecture"]] == ["dense", "lif", "dense", "li"]
    again = SpikingNetwork(back["architecture"])
    again.load_state_dict(back["state_dict"])
    with torch.no_grad():
        torch.testing.assert_close(again(x), net(x), rtol=1e-5, atol=1e-5)
    no_leak = [*arch[:3], {"type": "li", "tau": 1.0}]
    with pytest.raises(SnnhwError, match="no NIR LI form"):
        write_nir({**model, "architecture": no_leak}, tmp_path / "no_leak.nir")
    assert not (tmp_path / "no_leak.nir").exists()


def test_a_recipe_with_an_li_readout_trains_builds_and_checks_its_membranes(tmp_path):
    """``readout = "li"`` in a recipe: the float model's output layer is leaky integrators,
    trained with cross-entropy on the summed membranes; model.pt builds to a readout whose
    RTL membranes equal the golden ones, the RTL's answers equal the golden model's."""
    from snnhw.cli import main
    from snnhw.train import Recipe, train

    with pytest.raises(SnnhwError, match="readout = 'li' with loss = 'rate_mse'"):
        Recipe(readout="li").check()
    Recipe(readout="li", loss="count_ce", qat_bits=8).check()     # QAT models a readout
    path = tmp_path / "model.pt"
    train(Recipe(name="li", layers=["32FC"], timesteps=6, epochs=2, batch_size=50,
                 readout="li", readout_tau=0.9, loss="count_ce"), path, progress=False)
    model = torch.load(path, weights_only=True)
    assert model["architecture"][-1] == {"type": "li", "tau": 0.9}
    assert model["metrics"]["test_accuracy"] > 0.5
    out = tmp_path / "hw"
    assert main(["build", str(path), "--samples", "8", "--lanes", "4", "--out", str(out),
                 "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["rtl"]["mismatches"] == 0
    assert report["rtl"]["accuracy"] == report["rtl"]["golden_accuracy"]
    assert report["cycles_per_timestep"]["measured_mean"] == pytest.approx(
        report["cycles_per_timestep"]["predicted"])
    assert abs(report["accuracy"]["fixed"] - report["accuracy"]["float"]) < 0.03
    net = ir.load(out / "ir")
    assert net.layers[-1].kind == "li" and net.layers[-1].leak_mult == round(0.9 * 256)


def test_a_readouts_events_are_not_counted_as_spikes():
    from snnhw.report import activity

    net, inputs = random_readout_network(1)
    trace = golden.run(net, inputs)
    spiking = sum(float(s.sum()) for s in trace.spikes[:-1]) / inputs.shape[1]
    assert activity(net, inputs, trace.spikes)["spikes_per_sample"] == pytest.approx(spiking)
