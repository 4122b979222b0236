"""The UART host-link byte protocol, version 4: weights and input events in, class and scores out.

Shared by the hardware (``snnhw.hdl.hostlink``) and the host (``snnhw.run``); the framing is
written down here once (docs/host-link.md describes the same frames).

Host -> board:

* ``'V'`` (0x56): identify. The board answers with the 14-byte *identity*:
  ``'V', VERSION, input_features (u16), classes (u8), timesteps (u8), vote_group (u8),
  lanes (u8), load_bytes (u32), input_bits (u8), readout (u8)``. ``readout`` is 1 when the
  output layer is a leaky-integrator readout (membranes, not spikes), else 0.
  ``load_bytes`` is the length of the run-time weight image
  the board needs before its first sample (``snnhw.hdl.network.weight_load_bytes`` of the
  network at ``lanes`` with ``--weight-memory spram``), 0 when every weight is in the
  bitstream.
* ``'W'`` (0x57) and exactly ``load_bytes`` bytes: the weight image. The board answers
  ``'L'`` (0x4C) once the last byte is taken; its last word is written two clock cycles later,
  long before another byte can arrive. Weights are loaded once per reset: the bytes of a
  second ``'W'`` frame are counted and discarded. ``'S'`` frames before the weights are loaded
  are ignored (no result follows).
* ``'S'`` (0x53) and one sample: for each of the ``timesteps`` timesteps, the addresses of
  its input spikes as u16 (any order, each ``< input_features``), then ``EOT`` (0xFFFF).
  The sample ends with its last ``EOT``. Addresses ``>= input_features`` are ignored. A
  network with a direct-encoding input (``input_bits`` > 1) takes each address followed by
  its value (u8, ``1 .. 2**input_bits - 1``; zeros are not sent) in the first timestep only,
  since the hardware keeps the currents the values cause, or the values themselves, for the
  whole sample; the other timesteps are a bare ``EOT`` (entries sent there are ignored).

Board -> host, once the network has produced the sample's last output timestep, the *result*:
``'R', class (u8), score[0] ... score[classes-1], checksum (u8)``, where ``score[c]`` sums
the output spikes of class c's ``vote_group`` neurons over the sample (u16 each), or for a
readout their membranes over the sample's timesteps (i32 each, two's complement), ``class``
is the first class with the largest score, and ``checksum`` is the sum of the class and score
bytes modulo 256.

All multi-byte fields are big-endian (the weight image inside a ``'W'`` frame is the loader's
own byte stream, least significant byte of each word first). Bytes other than ``'V'``, ``'W'``
and ``'S'`` between frames are ignored. The host waits for each result before sending the
next sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EOT", "IDENTIFY", "IDENTITY_LENGTH", "LOADED", "RESULT", "SAMPLE", "VERSION",
           "WEIGHTS", "Identity", "Result", "decode_identity", "decode_result", "encode_sample",
           "encode_weights", "identity_bytes", "result_bytes", "result_length", "score_bytes"]

VERSION = 4
IDENTIFY = ord("V")
SAMPLE = ord("S")
RESULT = ord("R")
WEIGHTS = ord("W")
LOADED = ord("L")
EOT = 0xFFFF
IDENTITY_LENGTH = 14


@dataclass(frozen=True)
class Identity:
    """What the board reports about the network it carries."""

    version: int
    input_features: int
    classes: int
    timesteps: int
    vote_group: int
    lanes: int = 1
    load_bytes: int = 0
    input_bits: int = 1
    readout: bool = False


@dataclass(frozen=True)
class Result:
    """One sample's answer: the class and the score of every class (spike counts, or a
    readout's membrane sums)."""

    label: int
    counts: tuple[int, ...]


def encode_sample(inputs: np.ndarray, input_bits: int = 1) -> bytes:
    """``'S'`` and the events of one sample's inputs ``[T, F]``, ascending addresses: spikes
    (0/1), or with ``input_bits`` > 1 a direct input's values (the same at every timestep:
    sent once, in the first timestep, each address followed by its value)."""
    if inputs.ndim != 2:
        raise ValueError(f"one sample's inputs must be [T, F], got shape {inputs.shape}")
    if inputs.shape[1] >= EOT:
        raise ValueError(f"{inputs.shape[1]} inputs do not fit 16-bit addresses below 0xFFFF")
    top = (1 << input_bits) - 1 if input_bits > 1 else 1
    if inputs.size and (inputs.min() < 0 or inputs.max() > top):
        raise ValueError(f"inputs span {inputs.min()}..{inputs.max()}; {input_bits}-bit inputs "
                         f"take 0..{top}")
    out = bytearray([SAMPLE])
    for t, step in enumerate(inputs):
        if input_bits == 1 or t == 0:
            for address in np.flatnonzero(step):
                out += int(address).to_bytes(2, "big")
                if input_bits > 1:
                    out.append(int(step[address]))
        out += EOT.to_bytes(2, "big")
    return bytes(out)


def encode_weights(image: bytes) -> bytes:
    """``'W'`` and the run-time weight image (the board's ``load_bytes`` bytes)."""
    return bytes([WEIGHTS]) + image


def identity_bytes(identity: Identity) -> bytes:
    return bytes([IDENTIFY, identity.version]) + identity.input_features.to_bytes(2, "big") + \
        bytes([identity.classes, identity.timesteps, identity.vote_group, identity.lanes]) + \
        identity.load_bytes.to_bytes(4, "big") + bytes([identity.input_bits,
                                                        int(identity.readout)])


def decode_identity(raw: bytes) -> Identity:
    """Parse an identity frame; ``ValueError`` on a bad frame or another protocol version."""
    if len(raw) < 2 or raw[0] != IDENTIFY:
        raise ValueError(f"not an identity frame: {raw.hex()}")
    if raw[1] != VERSION:
        raise ValueError(f"the board speaks protocol version {raw[1]}, this host version "
                         f"{VERSION}: rebuild the bitstream with this snnhw")
    if len(raw) != IDENTITY_LENGTH:
        raise ValueError(f"not an identity frame: {raw.hex()}")
    return Identity(version=raw[1], input_features=int.from_bytes(raw[2:4], "big"),
                    classes=raw[4], timesteps=raw[5], vote_group=raw[6], lanes=raw[7],
                    load_bytes=int.from_bytes(raw[8:12], "big"), input_bits=raw[12],
                    readout=bool(raw[13]))


def score_bytes(readout: bool) -> int:
    """Bytes of one class score: u16 spike counts, or a readout's i32 membrane sums."""
    return 4 if readout else 2


def result_length(classes: int, readout: bool = False) -> int:
    """Bytes of a result frame for ``classes`` classes."""
    return 3 + score_bytes(readout) * classes


def result_bytes(counts: np.ndarray, readout: bool = False) -> bytes:
    """The result frame for per-class scores (what the board sends)."""
    counts = [int(c) for c in counts]
    label = int(np.argmax(counts))
    width = score_bytes(readout)
    body = bytes([label]) + b"".join(c.to_bytes(width, "big", signed=readout) for c in counts)
    return bytes([RESULT]) + body + bytes([sum(body) & 0xFF])


def decode_result(raw: bytes, classes: int, readout: bool = False) -> Result:
    """Parse and check a result frame; ``ValueError`` on a bad frame or checksum."""
    if len(raw) != result_length(classes, readout) or raw[0] != RESULT:
        raise ValueError(f"not a result frame for {classes} classes: {raw.hex()}")
    body = raw[1:-1]
    if sum(body) & 0xFF != raw[-1]:
        raise ValueError(f"result checksum {raw[-1]:#04x} does not match {sum(body) & 0xFF:#04x}")
    width = score_bytes(readout)
    counts = tuple(int.from_bytes(body[1 + width * c:1 + width * (c + 1)], "big",
                                  signed=readout) for c in range(classes))
    return Result(label=body[0], counts=counts)
