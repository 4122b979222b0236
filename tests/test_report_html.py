"""report.html and --trace: one sample's spikes of every layer from the float model, the golden
model and the RTL; the page rendered by a real headless browser (Debian's chromium); the
VCD of the traced sample."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from snnhw import golden
from snnhw.build import load_dataset
from snnhw.cli import main
from snnhw.data import encode_numpy
from snnhw.quant import integer_inputs, quantize_file

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
INSTALL = "apt-get install -y --no-install-recommends chromium"


@pytest.fixture(scope="module")
def traced(small_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "hw"
    assert main(["build", str(small_model), "--fixed", "6", "--samples", "4", "--trace", "2",
                 "--quiet", "--out", str(out)]) == 0
    return out


def test_views_hold_the_rtl_golden_and_float_spikes_of_the_sample(traced, small_model):
    """The RTL's events of sample 2 (recorded by the fast harness) equal the golden model's in
    every layer; the golden ones are the golden model's own; the float ones the float model's."""
    views = json.loads((traced / "views.json").read_text())
    assert views["sample"] == 2
    model, net = quantize_file(small_model, weight_bits=6)
    data = load_dataset(model["dataset"])
    spikes = integer_inputs(net, encode_numpy(data.x_test, net.encoding))
    trace = golden.run(net, spikes[:, :4])
    assert views["label"] == int(data.y_test[2])
    for index, layer in enumerate(views["layers"]):
        expected = [[int(t), int(n)] for t, n in zip(*np.nonzero(trace.spikes[index][:, 2]))]
        assert layer["golden"] == expected
        assert sorted(layer["rtl"]) == expected
        assert layer["float"] is not None and layer["membrane_float"] is not None
        # the traced neurons are the sample's most active ones
        counts = trace.spikes[index][:, 2].sum(axis=0, dtype=np.int64)
        assert counts[layer["traced"][0]] == counts.max()
    assert sum(len(layer["golden"]) for layer in views["layers"]) > 0
    bits = [point["bits"] for point in views["accuracy_by_bits"]]
    assert bits == sorted(bits) and 6 in bits


def test_trace_writes_the_vcd_of_the_sample_with_named_streams(traced):
    vcd = (traced / "trace" / "sample2.vcd").read_text(errors="replace")
    names = set(re.findall(r"\$var \w+ \d+ \S+ (\S+)", vcd))
    assert {"clk", "i__valid", "i__ready", "i__payload", "o__valid", "o__payload"} <= names
    assert "#" in vcd.split("$enddefinitions")[1]      # value changes follow


def test_report_html_is_one_self_contained_page(traced):
    page = (traced / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r'(src|href)="(?!data:)', page)      # nothing outside the file
    assert "Bit-exact: 0 mismatching spikes in every layer over 4 test samples" in page
    assert page.count('src="data:image/png;base64,') == 5
    assert "Spikes of test sample 2" in page and "identical" in page


def test_a_browser_draws_every_figure_of_the_report(traced, tmp_path):
    """Headless chromium loads report.html: every figure decodes (the page counts them) and
    the screenshot is a drawn page, not a blank one."""
    assert BROWSER, f"chromium is needed for this test: {INSTALL}"
    flags = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}"]
    url = (traced / "report.html").resolve().as_uri()
    dom = subprocess.run(flags + ["--virtual-time-budget=5000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120).stdout
    shown = re.search(r'data-figures-shown="(\d+)"', dom)
    assert shown and int(shown.group(1)) == 5, dom[:300]
    shot = tmp_path / "report.png"
    subprocess.run(flags + ["--window-size=1200,2400", f"--screenshot={shot}", url],
                   capture_output=True, timeout=120)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape == (2400, 1200)
    dark = (pixels < 128).mean()
    assert 0.005 < dark < 0.5, dark          # text and figures, on a light page


def test_trace_refuses_a_sample_beyond_the_test_set(small_model, tmp_path, capsys):
    assert main(["build", str(small_model), "--samples", "0", "--trace", "100000", "--quiet",
                 "--out", str(tmp_path / "hw")]) == 2
    assert "--trace 100000: the test set has" in capsys.readouterr().err
    assert not (tmp_path / "hw").exists()
