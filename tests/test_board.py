"""Board tops: bitstreams for the iCEBreaker and the ULX3S through amaranth-boards and the
yowasp tools, and a clear refusal when the network cannot fit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from snnhw import SnnhwError, ir
from snnhw.board import build_bitstream

from netgen import random_network


@pytest.mark.parametrize("board, magic", [("icebreaker", b"\x7e\xaa\x99\x7e"),
                                          ("ulx3s", b"\xff\x00")])
def test_bitstream_for_a_small_network(tmp_path, board, magic):
    net, _ = random_network(4)
    ir.save(net, tmp_path / "ir")
    result = build_bitstream(tmp_path, board, log=lambda line: None)
    data = (tmp_path / "board" / board / f"snn_board.{'bin' if board == 'icebreaker' else 'bit'}"
            ).read_bytes()
    assert result["bytes"] == len(data) > 10_000
    assert magic in data[:200]                  # iCE40 sync word / ECP5 bitstream preamble
    assert result["timing_met"], result         # at the board oscillator's frequency
    pcf_or_lpf = list((tmp_path / "board" / board).glob("*.pcf")) + \
        list((tmp_path / "board" / board).glob("*.lpf"))
    assert pcf_or_lpf and "uart" in pcf_or_lpf[0].read_text()


def test_network_too_big_for_the_board_is_refused_with_numbers(tmp_path):
    net, _ = random_network(4)
    layer = net.layers[0]
    big = replace(layer, in_features=784, out_features=128, weight_bits=8,
                  weight=np.zeros((128, 784), dtype=np.int64),
                  bias=np.zeros(128, dtype=np.int64), accumulator_bits=layer.membrane_bits + 12)
    net = replace(net, input_features=784, layers=(big,)).validate()
    ir.save(net, tmp_path / "ir")
    with pytest.raises(SnnhwError, match=r"does not fit ice40-up5k: .* need \d+ block RAMs, "
                                         r"the device has 30"):
        build_bitstream(tmp_path, "icebreaker", log=lambda line: None)
    assert not (tmp_path / "board").exists()
