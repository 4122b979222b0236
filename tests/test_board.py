"""Board tops: bitstreams for the iCEBreaker and the ULX3S through amaranth-boards and the
yowasp tools, SPRAM weights on the iCEBreaker when the block RAMs cannot hold them, and a
clear refusal when the network cannot fit."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from snnhw import SnnhwError, ir
from snnhw.board import build_bitstream

from netgen import random_network, spram_sized_network


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
    # 784 x 256 8-bit weights: 1.6 Mbit, two words to a 16-bit SPRAM row still need 7 SPRAMs
    big = replace(layer, in_features=784, out_features=256, weight_bits=8,
                  weight=np.zeros((256, 784), dtype=np.int64),
                  bias=np.zeros(256, dtype=np.int64), accumulator_bits=layer.membrane_bits + 12)
    net = replace(net, input_features=784, layers=(big,)).validate()
    ir.save(net, tmp_path / "ir")
    with pytest.raises(SnnhwError, match=r"does not fit ice40-up5k at P=1: .* need \d+ block "
                                         r"RAMs, the device has 30; with the largest layer's "
                                         r"weights and membranes in SPRAM it needs 7 SPRAMs "
                                         r"\(of 4\)"):
        build_bitstream(tmp_path, "icebreaker", log=lambda line: None)
    assert not (tmp_path / "board").exists()


def test_icebreaker_bitstream_takes_spram_weights_when_block_ram_is_short(tmp_path):
    """640-32 at 8 bits (160 kbit of weights, 120 kbit of EBR): the board top puts them in
    SPRAM, loaded over the UART ('W' frame), and the placed design uses the SPRAM."""
    net, _ = spram_sized_network()
    ir.save(net, tmp_path / "ir")
    result = build_bitstream(tmp_path, "icebreaker", lanes=2, log=lambda line: None)
    assert result["weight_memory"] == "spram" and result["bytes"] > 10_000
    placed = (tmp_path / "board" / "icebreaker" / "snn_board.tim").read_text()
    used = re.search(r"ICESTORM_SPRAM:\s+(\d+)/\s*4", placed)
    assert used and int(used.group(1)) == 1, placed[:2000]
