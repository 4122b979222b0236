"""`snnhw demo`, the README's first command, end to end on a small recipe: it trains, builds
for the UP5K, checks the RTL, prints a plain-text report and the next commands, and leaves
the model and the build where the README says."""

from __future__ import annotations

import json

from snnhw.cli import main

SMALL_RECIPE = """
name = "tiny_demo"
method = "stbp"
[data]
dataset = "mnist-subset"
[network]
layers = ["24FC"]
tau = 0.5
threshold = 0.5
[encoding]
timesteps = 4
[training]
epochs = 1
batch_size = 100
"""


def test_demo_trains_builds_for_the_up5k_and_names_the_next_steps(tmp_path, capsys):
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(SMALL_RECIPE)
    out = tmp_path / "demo"
    assert main(["demo", "--recipe", str(recipe), "--out", str(out), "--samples", "3",
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "[1/3] training tiny_demo" in printed and "[3/3] report" in printed
    assert f"snnhw build {out / 'model.pt'} --fixed 8 --target ice40-up5k" in printed
    # a plain-text report: no markdown table or image line, singular and plural right
    assert "![" not in printed and "| --- |" not in printed
    assert "4 timesteps" in printed and " 1 lanes" not in printed
    report = json.loads((out / "hw" / "report.json").read_text())
    assert report["fit"]["target"] == "ice40-up5k" and report["rtl"]["mismatches"] == 0
    assert f"snnhw synth {out / 'hw'} " in printed
    assert f"snnhw synth {out / 'hw'} --board icebreaker" in printed
    assert f"snnhw run {out / 'hw'} --port" in printed
    for path in ("model.pt", "model.metrics.json", "hw/report.md", "hw/report.html"):
        assert (out / path).is_file(), path
