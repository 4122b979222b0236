"""UART host link: protocol v4 frames, and the link in cocotb against the golden model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from snnhw import golden
from snnhw.cosim import run_link_cosim
from snnhw.hdl.emit import verilog_source
from snnhw.hdl.hostlink import HostLink
from snnhw.hdl.network import membrane_styles, weight_load_bytes
from snnhw.protocol import (
    VERSION,
    Identity,
    decode_identity,
    decode_result,
    encode_sample,
    identity_bytes,
    result_bytes,
)

from netgen import random_direct_network, random_network, random_readout_network


def test_sample_frame_layout():
    spikes = np.array([[0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=np.uint8)
    assert encode_sample(spikes) == bytes.fromhex("53" "0001" "0003" "ffff" "ffff" "0000" "ffff")


def test_direct_sample_frame_sends_the_values_once():
    """A direct input's values go with their addresses in the first timestep; the other
    timesteps are bare end-of-timestep markers."""
    values = np.array([[0, 200, 0, 7]] * 3, dtype=np.uint8)
    assert encode_sample(values, input_bits=8) == bytes.fromhex(
        "53" "0001c8" "000307" "ffff" "ffff" "ffff")
    with pytest.raises(ValueError, match="4-bit inputs take 0..15"):
        encode_sample(values, input_bits=4)


def test_result_frame_round_trip_and_checksum():
    frame = result_bytes(np.array([3, 300, 300, 0]))
    assert frame[:2] == bytes([ord("R"), 1])       # first maximum wins
    result = decode_result(frame, 4)
    assert result.label == 1 and result.counts == (3, 300, 300, 0)
    corrupt = frame[:3] + bytes([frame[3] ^ 4]) + frame[4:]
    with pytest.raises(ValueError, match="checksum"):
        decode_result(corrupt, 4)


def test_a_readout_result_carries_signed_32_bit_scores():
    """A readout's scores are membrane sums: negative values and more than 16 bits."""
    scores = np.array([-70_000, -3, 2_000_000, 2_000_000])
    frame = result_bytes(scores, readout=True)
    assert len(frame) == 3 + 4 * 4 and frame[:2] == bytes([ord("R"), 2])
    assert frame[2:6] == (-70_000).to_bytes(4, "big", signed=True)
    assert decode_result(frame, 4, readout=True).counts == tuple(scores.tolist())
    with pytest.raises(ValueError, match="not a result frame"):
        decode_result(frame, 4)


def test_identity_frame_round_trip_and_version_check():
    identity = Identity(version=VERSION, input_features=784, classes=10, timesteps=10,
                        vote_group=1, lanes=8, load_bytes=100_352, input_bits=8)
    raw = identity_bytes(identity)
    assert raw.hex() == "5604" "0310" "0a" "0a" "01" "08" "00018800" "08" "00"
    assert decode_identity(raw) == identity
    readout = replace(identity, readout=True)
    assert identity_bytes(readout)[-1] == 1 and decode_identity(identity_bytes(readout)) == readout
    with pytest.raises(ValueError, match="protocol version 1"):
        decode_identity(bytes([ord("V"), 1, 3, 16, 10, 10, 1]))
    with pytest.raises(ValueError, match="protocol version 2"):
        decode_identity(bytes.fromhex("5602" "0310" "0a" "0a" "01" "08" "00018800"))


def _cosimulate_link(folder, net, inputs, sim: str, *, lanes: int = 1,
                     weight_memory: str = "rom", membrane_memory: str = "bram") -> HostLink:
    """The network behind the link in ``sim`` (cocotb, sim/test_link.py): the testbench's
    frames and the pty host must both get the golden model's answer for every sample."""
    divisor = 4          # the UART's fewest clocks per bit: its edge, and the shortest run
    link = HostLink(net, divisor=divisor, lanes=lanes, weight_memory=weight_memory,
                    membrane_memory=membrane_memory)
    text, images = verilog_source(net, lanes, weight_memory=weight_memory,
                                  membrane_memory=membrane_memory, top=link, name="snn_link")
    rtl = folder / "rtl"
    rtl.mkdir()
    (rtl / "snn_link.v").write_text(text)
    for name, image in images.items():
        (rtl / name).write_text(image)
    results = run_link_cosim(folder, top="snn_link", sim=sim, inputs=inputs,
                             expected=golden.run(net, inputs).output, vote_group=net.vote_group,
                             divisor=divisor, load=weight_load_bytes(net, lanes, weight_memory))
    assert results["link_frames"] == {"samples": inputs.shape[1], "mismatches": []}
    assert results["link_host_over_pty"] == {"samples": inputs.shape[1], "mismatches": []}
    return link


@pytest.mark.parametrize("sim, seed, vote_group, lanes, weight_memory, membrane_memory", [
    ("icarus", 4, 1, 1, "rom", "bram"), ("verilator", 11, 2, 2, "spram", "bram"),
    pytest.param("verilator", 11, 2, 2, "spram", "spram", marks=pytest.mark.slow),
    pytest.param("verilator", 4, 1, 1, "rom", "bram", marks=pytest.mark.slow),
    pytest.param("icarus", 11, 2, 2, "spram", "bram", marks=pytest.mark.slow)])
def test_link_answers_like_the_golden_model(tmp_path, sim, seed, vote_group, lanes,
                                            weight_memory, membrane_memory):
    """A whole sample as UART bytes returns the golden model's class and counts; with
    ``spram`` weights the weights of the largest layer arrive first, in a 'W' frame; with
    ``spram`` membranes the cores clear them and step at half rate behind the link."""
    net, inputs = random_network(seed)
    if net.output_features % vote_group:
        net, inputs = random_network(seed + 100)
    net = replace(net, vote_group=vote_group).validate() if \
        net.output_features % vote_group == 0 else net
    link = _cosimulate_link(tmp_path, net, inputs, sim, lanes=lanes,
                            weight_memory=weight_memory, membrane_memory=membrane_memory)
    assert (link.identity.load_bytes > 0) == (weight_memory == "spram")
    if membrane_memory == "spram":
        assert "spram" in membrane_styles(net, lanes, weight_memory, membrane_memory)


@pytest.mark.parametrize("sim", ["verilator", pytest.param("icarus", marks=pytest.mark.slow)])
def test_link_carries_a_direct_input(tmp_path, sim):
    """A direct-encoding network behind the link: the values travel in the first timestep's
    entries and the board answers the golden model's class and counts."""
    net, inputs = random_direct_network(1)
    link = _cosimulate_link(tmp_path, net, inputs, sim)
    assert link.identity.input_bits == net.input_bits > 1


def test_link_answers_a_readout_with_its_membrane_sums(tmp_path):
    """A leaky-integrator readout behind the link (vote group 3, P = 2) on Verilator: the
    board's class and signed membrane sums per class (here beyond 16 bits, and negative)
    equal the golden model's, byte for byte, and through the host code of ``snnhw run``."""
    net, inputs = random_readout_network(4)
    net = replace(net, vote_group=3).validate()
    scores = golden.run(net, inputs).values.sum(axis=0)
    assert scores.min() < 0 and np.abs(scores).max() >= 1 << 16
    link = _cosimulate_link(tmp_path, net, inputs, "verilator", lanes=2)
    assert link.identity.readout
