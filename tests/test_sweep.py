"""snnhw sweep: the design space from estimates and from real synthesis, the Pareto front,
its files, and bad options refused before any work."""

from __future__ import annotations

import json

import pytest

from snnhw import golden
from snnhw.build import load_dataset
from snnhw.cli import main
from snnhw.data import encode_numpy
from snnhw.fit import configurations
from snnhw.quant import integer_inputs, quantize_file
from snnhw.sweep import SweepPoint, pareto_front
from snnhw.targets import TARGETS


def _point(cells: int, us: float, accuracy: float, target: str = "ecp5-25k",
           fits: bool = True) -> SweepPoint:
    return SweepPoint(bits=8, target=target, lanes=1, weight_memory="rom", source="estimate",
                      fits=fits, cells=cells, brams=1, sprams=0, fmax_mhz=None,
                      cycles_per_timestep=1.0, us_per_image=us, nj_per_image=1.0,
                      accuracy=accuracy, limit=None if fits else "too big")


def test_pareto_front_keeps_the_undominated_fitting_points_per_target():
    points = [_point(1000, 100.0, 0.90),    # front: fewest cells
              _point(2000, 50.0, 0.90),     # front: faster
              _point(2000, 60.0, 0.90),     # dominated by the one above
              _point(3000, 60.0, 0.95),     # front: most accurate
              _point(500, 10.0, 0.99, fits=False),          # does not fit: never on it
              _point(2000, 60.0, 0.90, target="ice40-up5k")]  # alone on its target
    marked = [p.pareto for p in pareto_front(points)]
    assert marked == [True, True, False, True, False, True]


@pytest.fixture(scope="module")
def estimated(small_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "sweep"
    assert main(["sweep", str(small_model), "--bits", "4", "8", "--samples", "20", "--quiet",
                 "--out", str(out)]) == 0
    return out


def test_sweep_from_estimates_covers_the_design_space(estimated, small_model):
    """Every (bits, target, lanes, memory) once; its figures are the fit estimates, its
    accuracy the golden model's on the whole test set, its cycles the cycle model's."""
    result = json.loads((estimated / "sweep.json").read_text())
    points = result["points"]
    expected = 2 * sum(5 * (2 if t.sprams else 1) for t in TARGETS.values())
    assert len(points) == expected
    assert len({(p["bits"], p["target"], p["lanes"], p["weight_memory"]) for p in points}) \
        == expected
    model, net = quantize_file(small_model, weight_bits=8)
    data = load_dataset(model["dataset"])
    spikes = integer_inputs(net, encode_numpy(data.x_test, net.encoding))
    accuracy = float((golden.predict(golden.run(net, spikes).output, net.vote_group)
                      == data.y_test).mean())
    eight = [p for p in points if p["bits"] == 8]
    assert {p["accuracy"] for p in eight} == {accuracy}
    by_key = {(p["target"], p["lanes"], p["weight_memory"]): p for p in eight}
    for c in configurations(net, TARGETS["ice40-up5k"]):
        if c.membrane_memory != "bram":     # the sweep covers block-RAM membranes
            continue
        p = by_key[("ice40-up5k", c.lanes, c.weight_memory)]
        assert (p["brams"], p["sprams"], p["cells"], p["fits"]) == (c.brams, c.sprams, c.cells,
                                                                     c.fits)
        assert p["us_per_image"] == pytest.approx(
            p["cycles_per_timestep"] * net.timesteps / TARGETS["ice40-up5k"].clock_mhz)
    # more lanes are never slower, and every target has a front among its fitting points
    up5k = sorted((p for p in eight if p["target"] == "ecp5-25k"), key=lambda p: p["lanes"])
    assert all(a["cycles_per_timestep"] >= b["cycles_per_timestep"]
               for a, b in zip(up5k, up5k[1:]))
    for target in ("ice40-up5k", "ecp5-25k"):
        assert any(p["pareto"] for p in points if p["target"] == target)
    assert all(p["fits"] for p in points if p["pareto"])


def test_sweep_writes_its_table_and_plot(estimated):
    table = (estimated / "sweep.md").read_text()
    assert "| target | bits | P | weights | fits |" in table
    assert table.count("\n| ice40-up5k | 8 |") == 10
    assert (estimated / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_synthesises_the_fitting_points(small_model, tmp_path, capsys):
    """--synth: the point that fits by the estimates (784-32-10 at 8 bits, P = 2, on the UP5K:
    the weights in SPRAM) is built and synthesised (its figures from Yosys + nextpnr, us/image
    at the measured fmax); the one that does not (every weight in 49 block RAMs) stays an
    estimate."""
    out = tmp_path / "sweep"
    assert main(["sweep", str(small_model), "--bits", "8", "--lanes", "2", "--targets",
                 "ice40-up5k", "--samples", "10", "--synth", "--quiet", "--out", str(out)]) == 0
    points = {p["weight_memory"]: p for p in json.loads((out / "sweep.json").read_text())["points"]}
    rom, spram = points["rom"], points["spram"]
    assert spram["source"] == "synthesis" and spram["fits"] and spram["sprams"] >= 1
    assert spram["fmax_mhz"] > 0
    assert spram["us_per_image"] == pytest.approx(spram["cycles_per_timestep"] * 6
                                                  / spram["fmax_mhz"])
    synth = json.loads((out / "points" / "w8-p2-spram" / "report.json").read_text())["synth"]
    assert synth["cells"] == spram["cells"] and synth["brams"] == spram["brams"]
    assert rom["source"] == "estimate" and not rom["fits"]
    assert "ice40-up5k: fastest fitting point: 8-bit, P=2, spram" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--bits", "1"], "--bits"),
    (["--targets", "xc7"], "invalid choice"),
    (["--lanes", "3"], "invalid choice"),
    (["--samples", "0"], "--samples"),
])
def test_sweep_refuses_bad_options(small_model, tmp_path, capsys, args, message):
    assert main(["sweep", str(small_model), *args, "--out", str(tmp_path / "s")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_sweep_never_replaces_a_folder_it_did_not_write(small_model, tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert main(["sweep", str(small_model), "--quiet", "--out", str(tmp_path / "mine")]) == 2
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    assert "mine" in capsys.readouterr().err
