"""cocotb testbench of the UART host link (``snnhw.hdl.hostlink.HostLink``).

A UART model drives ``rx`` and decodes ``tx`` bit by bit (8N1, ``divisor`` clock cycles per
bit). Two tests, each on every sample of ``vectors.npz`` (``$SNNHW_VECTORS``):

* ``link_frames``: the testbench sends protocol v4 frames itself (the weight image first when
  the identity asks for one) and compares every result frame byte for byte with the one the
  golden model's output spikes (a readout's membranes) give;
* ``link_host_over_pty``: the host code of ``snnhw run`` (:class:`snnhw.run.BoardLink` on a
  pyserial port) talks to the simulated board through a pseudo-terminal; its classes and
  counts must equal the golden model's.

Vectors: ``inputs`` uint8 [T, S, F], ``expected`` [T, S, N] (golden output spikes, or a
readout's membranes),
``vote_group``, ``divisor``, ``load`` uint8 [bytes] (the run-time weight image, may be empty).
Results (``$SNNHW_RESULTS``): JSON with the mismatching samples.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from snnhw.protocol import (
    IDENTIFY,
    IDENTITY_LENGTH,
    LOADED,
    decode_identity,
    encode_sample,
    encode_weights,
    result_bytes,
    result_length,
)


def _vectors() -> dict[str, np.ndarray]:
    path = Path(os.environ.get("SNNHW_VECTORS", Path(__file__).with_name("vectors.npz")))
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def _class_counts(expected: np.ndarray, sample: int, group: int) -> np.ndarray:
    counts = expected[:, sample].sum(axis=0, dtype=np.int64)
    return counts.reshape(-1, group).sum(axis=1)


async def _start(dut, divisor: int) -> None:
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rx.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2 * divisor)


async def _send(dut, data: bytes, divisor: int) -> None:
    for byte in data:
        for bit in [0] + [(byte >> k) & 1 for k in range(8)] + [1]:
            dut.rx.value = bit
            await ClockCycles(dut.clk, divisor)


async def _receive_byte(dut, divisor: int) -> int:
    while int(dut.tx.value) == 1:
        await RisingEdge(dut.clk)
    await ClockCycles(dut.clk, divisor // 2)
    assert int(dut.tx.value) == 0, "start bit too short"
    value = 0
    for k in range(8):
        await ClockCycles(dut.clk, divisor)
        value |= int(dut.tx.value) << k
    await ClockCycles(dut.clk, divisor)
    assert int(dut.tx.value) == 1, "missing stop bit"
    return value


async def _receive(dut, count: int, divisor: int) -> bytes:
    return bytes([await _receive_byte(dut, divisor) for _ in range(count)])


def _report(name: str, payload: dict) -> None:
    path = os.environ.get("SNNHW_RESULTS")
    if path:
        results = json.loads(Path(path).read_text()) if Path(path).is_file() else {}
        results[name] = payload
        Path(path).write_text(json.dumps(results))


@cocotb.test()
async def link_frames(dut):
    """Protocol frames sent by the testbench; result frames compared byte for byte."""
    v = _vectors()
    divisor, group = int(v["divisor"]), int(v["vote_group"])
    inputs, expected = v["inputs"], v["expected"]
    await _start(dut, divisor)
    await _send(dut, bytes([IDENTIFY]), divisor)
    identity = decode_identity(await _receive(dut, IDENTITY_LENGTH, divisor))
    classes = expected.shape[2] // group
    load = v["load"].tobytes()
    assert (identity.input_features, identity.timesteps, identity.classes,
            identity.vote_group, identity.load_bytes) == (
                inputs.shape[2], inputs.shape[0], classes, group, len(load))
    if load:
        receiver = cocotb.start_soon(_receive(dut, 1, divisor))
        await _send(dut, encode_weights(load), divisor)
        assert await receiver == bytes([LOADED])
    mismatches = []
    for sample in range(inputs.shape[1]):
        receiver = cocotb.start_soon(_receive(dut, result_length(classes, identity.readout),
                                              divisor))
        await _send(dut, encode_sample(inputs[:, sample], identity.input_bits), divisor)
        got = await receiver
        want = result_bytes(_class_counts(expected, sample, group), identity.readout)
        if got != want:
            mismatches.append({"sample": sample, "got": got.hex(), "want": want.hex()})
    _report("link_frames", {"samples": int(inputs.shape[1]), "mismatches": mismatches})
    assert not mismatches, mismatches


@cocotb.test()
async def link_host_over_pty(dut):
    """snnhw run's BoardLink on a pyserial port, bridged to the simulated UART by a pty."""
    import serial

    from snnhw.run import BoardLink

    v = _vectors()
    divisor, group = int(v["divisor"]), int(v["vote_group"])
    inputs, expected = v["inputs"], v["expected"]
    load = v["load"].tobytes()
    await _start(dut, divisor)
    master, slave = os.openpty()
    os.set_blocking(master, False)
    port = serial.Serial(os.ttyname(slave), baudrate=115200, timeout=30)
    answers: dict[str, object] = {}

    def host() -> None:
        try:
            link = BoardLink(port)
            answers["identity"] = identity = link.identify()
            if identity.load_bytes:
                link.load_weights(load)
            answers["results"] = [link.classify(inputs[:, k]) for k in range(inputs.shape[1])]
        except Exception as exc:  # reported to the test below
            answers["error"] = repr(exc)

    thread = threading.Thread(target=host, daemon=True)
    thread.start()

    async def board_to_host() -> None:
        while True:
            os.write(master, bytes([await _receive_byte(dut, divisor)]))

    cocotb.start_soon(board_to_host())
    while thread.is_alive():
        try:
            data = os.read(master, 256)
        except BlockingIOError:
            data = b""
        if data:
            await _send(dut, data, divisor)
        else:
            await ClockCycles(dut.clk, 10 * divisor)
    await FallingEdge(dut.clk)
    port.close()
    os.close(master)
    assert "error" not in answers, answers.get("error")
    mismatches = []
    for sample, result in enumerate(answers["results"]):
        counts = _class_counts(expected, sample, group)
        if result.label != int(np.argmax(counts)) or list(result.counts) != counts.tolist():
            mismatches.append({"sample": sample, "got": [result.label, list(result.counts)],
                               "want": [int(np.argmax(counts)), counts.tolist()]})
    _report("link_host_over_pty", {"samples": int(inputs.shape[1]), "mismatches": mismatches})
    assert not mismatches, mismatches
