"""NIR in and out with the real clients: networks built, trained a few steps and exported by
snnTorch, Sinabs and Norse, imported by snnhw (every layer's spikes equal to the framework's
own forward pass, then an 8-bit build whose RTL matches the golden model); snnhw models
exported and run by snnTorch and Norse; and the refusals of what cannot be imported."""

from __future__ import annotations

import warnings
from pathlib import Path

import nir
import numpy as np
import pytest
import torch

from snnhw import SnnhwError
from snnhw.build import BuildOptions, build
from snnhw.checkpoint import load_checkpoint
from snnhw.cli import main
from snnhw.data import bernoulli_numpy, bundled_mnist
from snnhw.interop.importer import SampleData, import_model
from snnhw.interop.nir_read import ImportOptions, read_graph, to_architecture
from snnhw.interop.nir_write import to_graph, write_nir
from snnhw.nn import SpikingNetwork
from snnhw.nn.network import architecture, mlp_architecture

from nirclients import CLIENTS, norse_spikes, snntorch_spikes, train_steps

STEPS = 6
CHECKED = 64            # test digits whose float spikes are compared layer by layer
RTL_SAMPLES = 6         # of those, checked on the RTL by the build


@pytest.fixture(scope="module")
def digits():
    """Bernoulli spikes of the bundled digits exactly as ``snnhw build --data mnist-subset``
    encodes them (seed 0): the training digits for the few steps, the test digits to compare."""
    data = bundled_mnist(0)
    train = torch.from_numpy(bernoulli_numpy(data.x_train[:512], STEPS, 0)).float()
    test = torch.from_numpy(bernoulli_numpy(data.x_test[:CHECKED], STEPS, 0)).float()
    return train, torch.from_numpy(data.y_train[:512]), test, data.y_test[:CHECKED]


def _float_spikes(model: dict, x: torch.Tensor) -> list[torch.Tensor]:
    net = SpikingNetwork(model["architecture"])
    net.load_state_dict(model["state_dict"])
    record: list[torch.Tensor] = []
    with torch.no_grad():
        net(x, record=record)
    return [r.reshape(r.shape[0], r.shape[1], -1) for r in record]


@pytest.mark.parametrize("client", ["snntorch", "sinabs", "norse"])
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_framework_export_builds_bit_exact(client, kind, digits, tmp_path):
    train, labels, test, test_labels = digits
    peer = CLIENTS[client]
    net = peer.build(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_steps(peer, net, train, labels)
        path = tmp_path / f"{client}_{kind}.nir"
        with torch.no_grad():
            theirs = peer.spikes(net, test)
            peer.export(net, path)
    # the compared digits as the build's test set: the .npz path, and a short golden run
    spikes = tmp_path / "test.npz"
    np.savez(spikes, inputs=test.permute(1, 0, 2).numpy().astype(np.uint8), labels=test_labels)
    data = SampleData(str(spikes))
    model = import_model(path, ImportOptions(client), data)
    ours = _float_spikes(model, test)
    assert len(ours) == len(theirs)
    for layer, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == b.shape, layer
        differ = int((a != b).sum())
        assert differ == 0, f"layer {layer}: {differ} of {a.numel()} spikes differ"
    assert float(theirs[-1].mean()) > 0.01, "the output layer barely fires: a weak check"

    report = build(path, tmp_path / "hw", BuildOptions(
        weight_bits=8, samples=RTL_SAMPLES, nir=ImportOptions(client), test_data=data))
    assert report["rtl"]["samples"] == RTL_SAMPLES
    assert report["rtl"]["mismatches"] == 0
    assert set(report["rtl"]["layer_mismatches"].values()) == {0}
    imported = load_checkpoint(tmp_path / "hw" / "model.pt")     # the float model it built
    assert imported["architecture"] == model["architecture"]
    assert report["accuracy"]["samples"] == CHECKED
    # the report's float accuracy is the framework's own: its output spike counts' argmax
    own = float((theirs[-1].sum(0).argmax(-1).numpy() == test_labels).mean())
    assert report["accuracy"]["float"] == pytest.approx(own)
    assert report["accuracy"]["float"] > 0.2, "a few training steps learn something"


def _snnhw_model(kind: str) -> dict:
    torch.manual_seed(4)
    arch = (mlp_architecture([784, 32, 10], tau=0.8, threshold=0.3) if kind == "mlp" else
            architecture([1, 28, 28], ["4C5", "AP2"], 10, tau=0.8, threshold=0.2))
    net = SpikingNetwork(arch)
    for p in net.parameters():      # larger weights than torch's default: busy layers
        p.data *= 3.0
    return {"name": f"snnhw_{kind}", "architecture": arch, "state_dict": net.state_dict(),
            "dataset": {"name": "mnist-subset", "features": 784, "classes": 10},
            "encoding": {"type": "bernoulli", "timesteps": STEPS, "seed": 0}, "metrics": {}}


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_snnhw_export_runs_in_snntorch_and_norse(kind, digits, tmp_path):
    test = digits[2]
    model = _snnhw_model(kind)
    ours = _float_spikes(model, test)[-1]
    assert float(ours.mean()) > 0.01
    # snnTorch reads AvgPool2d, Norse only SumPool2d: one file each
    for pool, run in (("avg", lambda p: snntorch_spikes(p, test, kind == "cnn")),
                      ("sum", lambda p: norse_spikes(p, test, kind == "cnn", 1e-4))):
        path = write_nir(model, tmp_path / f"{kind}_{pool}.nir", pool=pool)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = run(path)
        assert theirs.shape == ours.shape
        assert int((theirs != ours).sum()) == 0, pool
        # and back into snnhw: the same network
        back = import_model(path, ImportOptions("snnhw"), SampleData("mnist-subset",
                                                                     timesteps=STEPS))
        assert int((_float_spikes(back, test)[-1] != ours).sum()) == 0


def _graph(*nodes: tuple[str, object]) -> nir.NIRGraph:
    names = [name for name, _ in nodes]
    return nir.NIRGraph(nodes=dict(nodes), edges=list(zip(names[:-1], names[1:])),
                        type_check=False)


def _lif(n: int, **overrides) -> nir.LIF:
    params = {"tau": np.full(n, 1e-3), "r": np.ones(n), "v_leak": np.zeros(n),
              "v_threshold": np.ones(n), "v_reset": np.zeros(n)}
    params.update({k: np.full(n, v) for k, v in overrides.items()})
    return nir.LIF(**params)


def _affine(n_in: int, n_out: int) -> nir.Affine:
    rng = np.random.default_rng(0)
    return nir.Affine(weight=rng.normal(size=(n_out, n_in)), bias=np.zeros(n_out))


def _mlp(neuron) -> nir.NIRGraph:
    return _graph(("input", nir.Input(input_type={"input": np.array([784])})),
                  ("fc", _affine(784, 10)), ("lif", neuron),
                  ("output", nir.Output(output_type={"output": np.array([10])})))


def test_euler_discretisation_and_per_neuron_parameters_fold_into_the_synapse(tmp_path):
    """NIR's LIF at dt = 1e-4 with tau = 5e-4 is beta = 0.8; a per-neuron input scale
    r dt / tau, leak current and threshold end up in the weights and bias, the layer keeping
    one decay and threshold 1, so that u / threshold_i is the same neuron."""
    n = 10
    neuron = _lif(n, tau=5e-4)
    neuron.r = np.linspace(1.0, 2.0, n)
    neuron.v_leak = np.linspace(0.0, 0.5, n)
    neuron.v_threshold = np.linspace(0.5, 1.5, n)
    path = tmp_path / "g.nir"
    nir.write(path, _mlp(neuron))
    model = import_model(path, ImportOptions("nir", dt=1e-4), SampleData("mnist-subset",
                                                                     timesteps=4))
    lif = model["architecture"][1]
    assert lif["tau"] == pytest.approx(0.8) and lif["threshold"] == 1.0
    gain = neuron.r * 0.2 / neuron.v_threshold
    weight = model["state_dict"]["layers.0.weight"].numpy()
    np.testing.assert_allclose(weight, _affine(784, 10).weight * gain[:, None], rtol=1e-6)
    np.testing.assert_allclose(model["state_dict"]["layers.0.bias"].numpy(),
                               neuron.v_leak * 0.2 / neuron.v_threshold, rtol=1e-6, atol=1e-7)


def _write(tmp_path: Path, graph) -> Path:
    path = tmp_path / "g.nir"
    nir.write(path, graph)
    return path


def _import(tmp_path: Path, graph, name: str) -> dict:
    """The architecture and weights snnhw reads from ``graph`` written to a file."""
    path = tmp_path / f"{name}.nir"
    nir.write(path, graph)
    arch, state, _, _ = to_architecture(read_graph(path), str(path),
                                        ImportOptions("nir", dt=1e-4))
    return {"architecture": arch, "state_dict": state}


def _same_model(got: dict, expected: dict) -> None:
    assert got["architecture"] == expected["architecture"]
    assert got["state_dict"].keys() == expected["state_dict"].keys()
    for key, value in expected["state_dict"].items():
        torch.testing.assert_close(got["state_dict"][key], value, rtol=1e-5, atol=1e-6)


def test_linear_branches_and_runs_import_as_one_synapse(tmp_path):
    """NIR sums the edges into a node. Two dense branches from the input joining at the LIF
    import as the one synapse W_a + W_b (biases added); a dense 784-32, a Scale and a dense
    32-10 in a row as W_2 diag(s) W_1 (bias W_2 (s b_1) + b_2): the same model, weights and
    biases, as the chain written with that synapse (files written and read through nir)."""
    rng = np.random.default_rng(1)
    inp = nir.Input(input_type={"input": np.array([784])})
    out = nir.Output(output_type={"output": np.array([10])})
    a = nir.Affine(weight=rng.normal(size=(10, 784)), bias=rng.normal(size=10))
    b = nir.Linear(weight=rng.normal(size=(10, 784)))
    branches = nir.NIRGraph(nodes={"input": inp, "fa": a, "fb": b, "lif": _lif(10),
                                   "output": out},
                            edges=[("input", "fa"), ("input", "fb"), ("fa", "lif"),
                                   ("fb", "lif"), ("lif", "output")], type_check=False)
    chain = _graph(("input", inp), ("fc", nir.Affine(weight=a.weight + b.weight,
                                                      bias=a.bias)), ("lif", _lif(10)),
                   ("output", out))
    _same_model(_import(tmp_path, branches, "branches"), _import(tmp_path, chain, "chain"))

    w1, b1 = rng.normal(size=(32, 784)), rng.normal(size=32)
    w2, b2 = rng.normal(size=(10, 32)), rng.normal(size=10)
    s = rng.uniform(0.5, 2.0, size=32)
    run = _graph(("input", inp), ("f1", nir.Affine(weight=w1, bias=b1)),
                 ("scale", nir.Scale(scale=s)), ("f2", nir.Affine(weight=w2, bias=b2)),
                 ("lif", _lif(10)), ("output", out))
    folded = _graph(("input", inp), ("fc", nir.Affine(weight=w2 @ (s[:, None] * w1),
                                                       bias=w2 @ (s * b1) + b2)),
                    ("lif", _lif(10)), ("output", out))
    _same_model(_import(tmp_path, run, "run"), _import(tmp_path, folded, "folded"))


def test_convolution_branches_and_a_skip_import_as_one_convolution(tmp_path):
    """Two 3x3 convolutions of one geometry (stride 1, padding 1) from a 2 x 8 x 8 input and
    the input itself (a skip) into one LIF: the convolution with the kernels added and a
    centred unit kernel per channel; a convolution of another geometry is refused."""
    rng = np.random.default_rng(2)
    inp = nir.Input(input_type={"input": np.array([2, 8, 8])})
    out = nir.Output(output_type={"output": np.array([2, 8, 8])})

    def conv(kernel: int = 3, padding: int = 1) -> nir.Conv2d:
        return nir.Conv2d(input_shape=(8, 8), weight=rng.normal(size=(2, 2, kernel, kernel)),
                          stride=1, padding=padding, dilation=1, groups=1,
                          bias=rng.normal(size=2))

    ca, cb = conv(), conv()

    def lif() -> nir.LIF:
        return nir.LIF(tau=np.full((2, 8, 8), 1e-3), r=np.ones((2, 8, 8)),
                       v_leak=np.zeros((2, 8, 8)), v_threshold=np.ones((2, 8, 8)),
                       v_reset=np.zeros((2, 8, 8)))

    branches = nir.NIRGraph(
        nodes={"input": inp, "ca": ca, "cb": cb, "lif": lif(), "output": out},
        edges=[("input", "ca"), ("input", "cb"), ("input", "lif"), ("ca", "lif"),
               ("cb", "lif"), ("lif", "output")], type_check=False)
    kernel = ca.weight + cb.weight
    kernel[[0, 1], [0, 1], 1, 1] += 1.0
    chain = _graph(("input", inp), ("conv", nir.Conv2d(
        input_shape=(8, 8), weight=kernel, stride=1, padding=1, dilation=1, groups=1,
        bias=ca.bias + cb.bias)), ("lif", lif()), ("output", out))
    _same_model(_import(tmp_path, branches, "branches"), _import(tmp_path, chain, "chain"))

    branches.nodes["cb"] = conv(kernel=5, padding=2)
    with pytest.raises(SnnhwError, match="sums convolutions of different kernels"):
        _import(tmp_path, branches, "mixed")


@pytest.mark.parametrize("case, message", [
    ("cuba", "node 'lif' (CubaLIF): not importable; snnhw reads Input"),
    ("reset", "v_reset 0.2; snnhw resets to 0"),
    ("decay", "the decay differs between neurons"),
    ("tau", "decay -1 per step"),
    ("threshold", "thresholds > 0 are required"),
    ("cycle", "the graph has a cycle"),
    ("branch", "feeds 2 nodes"),
    ("spiking_branch", "joins 2 branches; snnhw merges only linear branches"),
    ("maxpool_shape", "a Flatten node must come before a dense layer"),
    ("no_neurons", "ends with a synapse without neurons"),
    ("li_not_last", "node 'fc2' (Affine): follows the LI readout 'li'"),
])
def test_graphs_snnhw_cannot_build_are_refused_naming_the_node(case, message, tmp_path):
    n = 10
    inp = ("input", nir.Input(input_type={"input": np.array([784])}))
    out = ("output", nir.Output(output_type={"output": np.array([n])}))
    if case == "cuba":
        graph = _graph(inp, ("fc", _affine(784, n)), ("lif", nir.CubaLIF(
            tau_syn=np.full(n, 1e-3), tau_mem=np.full(n, 1e-3), r=np.ones(n),
            v_leak=np.zeros(n), v_threshold=np.ones(n))), out)
    elif case in ("reset", "decay", "tau", "threshold"):
        neuron = {"reset": _lif(n, v_reset=0.2), "tau": _lif(n, tau=5e-5),
                  "threshold": _lif(n, v_threshold=-1.0), "decay": _lif(n)}[case]
        if case == "decay":
            neuron.tau = np.linspace(1e-3, 2e-3, n)
        graph = _mlp(neuron)
    elif case == "cycle":
        graph = _mlp(_lif(n))
        graph.edges.append(("lif", "fc"))
    elif case == "branch":
        graph = _mlp(_lif(n))
        graph.nodes["fc2"] = _affine(784, n)
        graph.edges.append(("input", "fc2"))
    elif case == "spiking_branch":      # a LIF on one branch: not one linear map
        graph = _graph(inp, ("fc", _affine(784, n)), ("lif", _lif(n)), ("fc3", _affine(n, n)),
                       ("lif_out", _lif(n)), out)
        graph.nodes["fc2"] = _affine(784, n)
        graph.edges += [("input", "fc2"), ("fc2", "lif_out")]
    elif case == "maxpool_shape":
        graph = _graph(("input", nir.Input(input_type={"input": np.array([1, 28, 28])})),
                       ("fc", _affine(784, n)), ("lif", _lif(n)), out)
    elif case == "li_not_last":
        graph = _graph(inp, ("fc", _affine(784, n)), ("li", nir.LI(
            tau=np.full(n, 1e-3), r=np.ones(n), v_leak=np.zeros(n))), ("fc2", _affine(n, n)),
            ("lif", _lif(n)), out)
    else:
        graph = _graph(inp, ("fc", _affine(784, n)), out)
    path = tmp_path / "g.nir"
    nir.write(path, graph)
    with pytest.raises(SnnhwError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_model(path, ImportOptions("nir", dt=1e-4), SampleData("mnist-subset",
                                                                 timesteps=4))


def test_bad_files_and_missing_data_are_one_line_errors_and_write_nothing(tmp_path, capsys):
    good = tmp_path / "g.nir"
    nir.write(good, _mlp(_lif(10)))
    junk = tmp_path / "junk.nir"
    junk.write_bytes(b"not hdf5 at all")
    out = tmp_path / "m.pt"
    cases = [
        ([str(junk), "--out", str(out), "--dt", "1e-4", "--data", "mnist-subset",
          "--timesteps", "4"], "not a NIR file"),
        ([str(good), "--out", str(out), "--dt", "1e-4"], "carries no test data: pass --data"),
        ([str(good), "--out", str(out), "--data", "mnist-subset", "--timesteps", "4"],
         "pass --dt"),
        ([str(good), "--out", str(out), "--dt", "1e-4", "--data", "mnist-subset"],
         "pass --timesteps"),
        ([str(good), "--out", str(out), "--dt", "1e-4", "--data", str(tmp_path / "x.npz")],
         "no such data file"),
        ([str(tmp_path / "absent.nir"), "--out", str(out)], "no such NIR file"),
    ]
    for argv, message in cases:
        assert main(["import", *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
        assert not out.exists()
    # an .npz of the wrong input size names both sizes
    np.savez(tmp_path / "small.npz", inputs=np.zeros((3, 4, 20), np.uint8),
             labels=np.zeros(3, np.int64))
    assert main(["import", str(good), "--out", str(out), "--dt", "1e-4",
                 "--data", str(tmp_path / "small.npz")]) == 2
    assert "the graph's Input takes 784" in capsys.readouterr().err and not out.exists()


def test_npz_test_data_and_the_import_command(tmp_path, capsys):
    rng = np.random.default_rng(0)
    good = _write(tmp_path, _mlp(_lif(10, tau=5e-4)))
    np.savez(tmp_path / "data.npz", inputs=(rng.random((5, 3, 784)) < 0.2).astype(np.uint8),
             labels=np.arange(5))
    out = tmp_path / "m.pt"
    assert main(["import", str(good), "--out", str(out), "--dt", "1e-4", "--data",
                 str(tmp_path / "data.npz")]) == 0
    model = load_checkpoint(out)
    assert model["encoding"] == {"type": "frames", "timesteps": 3, "seed": 0}
    assert model["dataset"]["name"] == "npz"
    # never replaced
    assert main(["import", str(good), "--out", str(out), "--dt", "1e-4", "--data",
                 str(tmp_path / "data.npz")]) == 2
    assert "never replaces" in capsys.readouterr().err


def test_export_refuses_what_nir_cannot_say(tmp_path):
    model = _snnhw_model("mlp")
    model["architecture"][1]["reset"] = "subtract"
    with pytest.raises(SnnhwError, match=r"layer 1 \(lif\): reset='subtract'"):
        to_graph(model)
    model = _snnhw_model("mlp")
    path = write_nir(model, tmp_path / "m.nir")
    with pytest.raises(SnnhwError, match="never replaces"):
        write_nir(model, path)


def test_build_command_takes_a_nir_graph_and_refuses_nir_options_for_model_pt(tmp_path, capsys):
    """The CLI path: ``snnhw build g.nir`` with the exporter and the test data (no RTL run:
    the framework tests above run it), the imported model written in the build folder;
    ``--data`` on a model.pt is refused."""
    good = _write(tmp_path, _mlp(_lif(10, tau=5e-4)))
    out = tmp_path / "hw"
    assert main(["build", str(good), "--out", str(out), "--samples", "0", "--quiet",
                 "--from", "nir", "--dt", "1e-4", "--data", "mnist-subset",
                 "--timesteps", "3"]) == 0
    model = load_checkpoint(out / "model.pt")
    assert model["architecture"][1]["tau"] == pytest.approx(0.8)
    assert (out / "ir" / "network.json").is_file()
    assert main(["build", str(out / "model.pt"), "--out", str(tmp_path / "hw2"),
                 "--samples", "0", "--data", "mnist-subset"]) == 2
    assert "--data and --timesteps are for NIR models" in capsys.readouterr().err
    assert not (tmp_path / "hw2").exists()


def test_a_norse_li_readout_imports_and_builds_bit_exact(digits, tmp_path):
    """Norse's ``LIBoxCell`` readout (exported as a NIR ``LI``): the imported float model
    gives the hidden layer's spikes exactly and the readout's membranes to float rounding;
    the 8-bit build checks the readout's membranes on the RTL, and classifies as Norse
    does (largest membrane summed over time)."""
    import norse.torch as nt

    train, labels, test, test_labels = digits
    torch.manual_seed(5)
    net = nt.SequentialState(
        torch.nn.Linear(784, 48),
        nt.LIFBoxCell(nt.LIFBoxParameters(tau_mem_inv=torch.tensor(200.0),
                                          v_th=torch.tensor(0.1))),
        torch.nn.Linear(48, 10), nt.LIBoxCell(nt.LIBoxParameters(tau_mem_inv=torch.tensor(100.0))))

    def forward(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        states: list = [None] * 4
        hidden, out = [], []
        for step in x:
            h = net[0](step)
            h, states[1] = net[1](h, states[1])
            hidden.append(h)
            v, states[3] = net[3](net[2](h), states[3])
            out.append(v)
        return torch.stack(hidden), torch.stack(out)

    optimiser = torch.optim.Adam(net.parameters(), lr=2e-3)
    for step in range(12):
        batch = slice(step * 32, step * 32 + 32)
        loss = torch.nn.functional.cross_entropy(forward(train[:, batch])[1].sum(0),
                                                 labels[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    path = tmp_path / "norse_li.nir"
    with torch.no_grad():
        spikes, membranes = forward(test)
        nir.write(path, nt.to_nir(net, torch.zeros(784)), compression=None)
    assert isinstance(read_graph(path).nodes["3"], nir.LI)
    npz = tmp_path / "test.npz"
    np.savez(npz, inputs=test.permute(1, 0, 2).numpy().astype(np.uint8), labels=test_labels)
    data = SampleData(str(npz))
    model = import_model(path, ImportOptions("norse"), data)
    assert model["architecture"][-1] == {"type": "li", "tau": pytest.approx(0.9)}
    ours = SpikingNetwork(model["architecture"])
    ours.load_state_dict(model["state_dict"])
    record: list[torch.Tensor] = []
    with torch.no_grad():
        out = ours(test, record)
    assert torch.equal(record[0], spikes)
    assert float(spikes.mean()) > 0.01
    torch.testing.assert_close(out, membranes, rtol=1e-5, atol=1e-5)

    report = build(path, tmp_path / "hw", BuildOptions(
        weight_bits=8, samples=RTL_SAMPLES, nir=ImportOptions("norse"), test_data=data))
    assert report["rtl"]["mismatches"] == 0
    assert set(report["rtl"]["layer_mismatches"].values()) == {0}
    own = float((membranes.sum(0).argmax(-1).numpy() == test_labels).mean())
    assert report["accuracy"]["float"] == pytest.approx(own)
    assert report["rtl"]["accuracy"] == report["rtl"]["golden_accuracy"]
    assert abs(report["accuracy"]["fixed"] - own) <= 0.05


def test_a_residual_snntorch_net_exported_by_nirtorch_imports_as_one_synapse(digits, tmp_path):
    """A branched graph from a framework: snnTorch neurons with a residual block
    (``lif2(fc2(h) + fc3(h) + h)``), exported by NIR's own torch tracer
    (``nirtorch.torch_to_nir`` with snnTorch's node mapping; snnTorch 1.0's ``export_to_nir``
    loses a neuron fed by a sum). snnhw folds the two branches and the identity skip into one
    dense synapse: every layer's spikes equal snnTorch's forward, and the 8-bit build is
    bit-exact."""
    import nirtorch
    import snntorch as snn
    import snntorch.utils
    from snntorch.export_nir import _extract_snntorch_module

    train, labels, test, test_labels = digits

    def leaky(n: int) -> torch.nn.Module:
        return snn.Leaky(beta=torch.full((n,), 0.8), threshold=torch.full((n,), 0.5),
                         init_hidden=True, reset_mechanism="zero")

    class Residual(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.lif1 = torch.nn.Linear(784, 32), leaky(32)
            self.fc2, self.fc3, self.lif2 = torch.nn.Linear(32, 32), torch.nn.Linear(32, 32), \
                leaky(32)
            self.fc4, self.lif3 = torch.nn.Linear(32, 10), leaky(10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.lif1(self.fc1(x))
            return self.lif3(self.fc4(self.lif2(self.fc2(h) + self.fc3(h) + h)))

    torch.manual_seed(0)
    net = Residual()

    def spikes(x: torch.Tensor) -> list[torch.Tensor]:
        snntorch.utils.reset(net)
        out: list[list[torch.Tensor]] = [[], [], []]
        for step in x:
            h = net.lif1(net.fc1(step))
            g = net.lif2(net.fc2(h) + net.fc3(h) + h)
            for k, value in enumerate((h, g, net.lif3(net.fc4(g)))):
                out[k].append(value)
        return [torch.stack(o) for o in out]

    optimiser = torch.optim.Adam(net.parameters(), lr=2e-3)
    for step in range(12):
        batch = slice(step * 32, step * 32 + 32)
        loss = torch.nn.functional.cross_entropy(spikes(train[:, batch])[-1].sum(0),
                                                 labels[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = nirtorch.torch_to_nir(net, {snn.Leaky: _extract_snntorch_module},
                                      type_check=False)
    assert {("fc2", "lif2"), ("fc3", "lif2"), ("lif1", "lif2")} <= set(graph.edges)
    # without type checking the tracer leaves the Output's shape unset (nir.write needs it)
    graph.nodes["output"] = nir.Output(output_type={"output": np.array([10])})
    path = tmp_path / "residual.nir"
    nir.write(path, graph)
    npz = tmp_path / "test.npz"
    np.savez(npz, inputs=test.permute(1, 0, 2).numpy().astype(np.uint8), labels=test_labels)
    data = SampleData(str(npz))
    model = import_model(path, ImportOptions("snntorch"), data)
    assert [s["type"] for s in model["architecture"]] == ["dense", "lif"] * 3
    with torch.no_grad():
        theirs = spikes(test)
    ours = _float_spikes(model, test)
    for layer, (a, b) in enumerate(zip(ours, theirs)):
        assert int((a != b).sum()) == 0, f"layer {layer}"
        assert float(b.mean()) > 0.01, f"layer {layer} barely fires: a weak check"
    report = build(path, tmp_path / "hw", BuildOptions(
        weight_bits=8, samples=RTL_SAMPLES, nir=ImportOptions("snntorch"), test_data=data))
    assert report["rtl"]["mismatches"] == 0
    assert set(report["rtl"]["layer_mismatches"].values()) == {0}
