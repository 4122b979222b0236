"""Run stage: stream samples to a board over the UART host link and score its answers.

:class:`BoardLink` speaks protocol v4 (:mod:`snnhw.protocol`) over any byte stream with
``read(n)`` and ``write(data)``: a pyserial port for a real board, a pseudo-terminal to the
cosimulated design in the tests. :func:`run_board` streams a build's test samples and reports
accuracy (against the labels and against the golden model) and throughput, after sending
the run-time weights when the board asks for them (``load_bytes`` in its identity).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from . import SnnhwError, golden
from .build import load_dataset
from .buildfolder import open_build
from .data import encode_numpy
from .hdl.network import weight_load_bytes
from .protocol import (
    IDENTIFY,
    IDENTITY_LENGTH,
    LOADED,
    VERSION,
    Identity,
    Result,
    decode_identity,
    decode_result,
    encode_sample,
    encode_weights,
    result_length,
)
from .quant import integer_inputs

__all__ = ["BoardLink", "open_serial", "run_board"]

DEFAULT_BAUD = 115_200


class ByteStream(Protocol):
    def read(self, size: int) -> bytes: ...
    def write(self, data: bytes) -> int | None: ...


class BoardLink:
    """Host side of the UART link. ``stream`` reads block up to its own timeout and may
    return fewer bytes; a short frame is an error naming what was missing."""

    def __init__(self, stream: ByteStream) -> None:
        self.stream = stream
        self.identity: Identity | None = None

    def _read(self, size: int, what: str, patience: float = 0.0) -> bytes:
        """``size`` bytes; empty reads (the stream's own timeout) are retried for
        ``patience`` seconds before giving up."""
        data = b""
        deadline = time.monotonic() + patience
        while len(data) < size:
            chunk = self.stream.read(size - len(data))
            if not chunk and time.monotonic() >= deadline:
                raise SnnhwError(f"board link: timed out waiting for the {what} "
                                 f"({len(data)} of {size} bytes: {data.hex()})")
            data += chunk
        return data

    def identify(self) -> Identity:
        self.stream.write(bytes([IDENTIFY]))
        head = self._read(2, "identity frame")
        # the version byte comes first, so a board of another version is named as such
        rest = b"" if len(head) == 2 and head[1] != VERSION else \
            self._read(IDENTITY_LENGTH - 2, "identity frame")
        try:
            identity = decode_identity(head + rest)
        except ValueError as exc:
            raise SnnhwError(f"board link: {exc}") from None
        self.identity = identity
        return identity

    def load_weights(self, image: bytes, baud: int = DEFAULT_BAUD) -> None:
        """Send the run-time weight image (``'W'`` frame) and wait for the board's ``'L'``."""
        identity = self.identity or self.identify()
        if len(image) != identity.load_bytes:
            raise SnnhwError(f"board link: the board expects a {identity.load_bytes}-byte "
                             f"weight image, got {len(image)} bytes")
        self.stream.write(encode_weights(image))
        # 10 bits per byte on the line; the write may return before the bytes are sent
        answer = self._read(1, "weights-loaded answer", patience=2 + 10 * len(image) / baud)
        if answer[0] != LOADED:
            raise SnnhwError(f"board link: expected 'L' after the weights, got {answer.hex()}")

    def classify(self, inputs: np.ndarray) -> Result:
        """Send one sample's inputs ``[T, F]`` (spikes, or a direct input's values); return
        the board's class and counts."""
        identity = self.identity or self.identify()
        if inputs.shape != (identity.timesteps, identity.input_features):
            raise SnnhwError(f"sample shape {inputs.shape} does not match the board's network "
                             f"({identity.timesteps} timesteps x {identity.input_features} inputs)")
        self.stream.write(encode_sample(inputs, identity.input_bits))
        raw = self._read(result_length(identity.classes, identity.readout), "result frame")
        try:
            return decode_result(raw, identity.classes, identity.readout)
        except ValueError as exc:
            raise SnnhwError(f"board link: {exc}") from None


def open_serial(port: str, baud: int = DEFAULT_BAUD, timeout: float = 2.0) -> ByteStream:
    """A pyserial port (``pip install pyserial``)."""
    try:
        import serial
    except ImportError:
        raise SnnhwError("snnhw run needs pyserial: pip install pyserial") from None
    try:
        return serial.Serial(port, baudrate=baud, timeout=timeout)
    except (serial.SerialException, OSError) as exc:
        raise SnnhwError(f"{port}: cannot open serial port ({exc})") from None


def run_board(folder: str | Path, stream: ByteStream, *, samples: int = 100,
              baud: int = DEFAULT_BAUD, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Stream the first ``samples`` test samples of build ``folder`` through the board."""
    if samples < 1:
        raise SnnhwError(f"--samples {samples}: at least 1 sample is required")
    net, _ = open_build(folder, checked=("ir",))
    data = load_dataset(net.dataset)
    if samples > len(data.y_test):
        log(f"--samples {samples}: the test set has {len(data.y_test)} samples; sending all")
    inputs = integer_inputs(net, encode_numpy(data.x_test[:samples], net.encoding))
    expected = golden.predict(golden.run(net, inputs).output, net.vote_group)
    link = BoardLink(stream)
    identity = link.identify()
    wanted = (net.input_features, net.timesteps, net.vote_group, net.input_bits,
              not net.layers[-1].fires)
    if (identity.input_features, identity.timesteps, identity.vote_group,
            identity.input_bits, identity.readout) != wanted:
        raise SnnhwError(f"the board carries a different network: {identity} vs the build's "
                         f"{wanted} (inputs, timesteps, vote group, input bits, readout)")
    if identity.load_bytes:
        image = weight_load_bytes(net, identity.lanes, "spram")
        log(f"sending {len(image)} bytes of weights (P={identity.lanes}) ...")
        link.load_weights(image, baud)
    labels = []
    started = time.perf_counter()
    for k in range(inputs.shape[1]):
        labels.append(link.classify(inputs[:, k]).label)
    seconds = time.perf_counter() - started
    labels = np.asarray(labels)
    summary = {"samples": len(labels),
               "accuracy": float((labels == data.y_test[:len(labels)]).mean()),
               "agreement_with_golden": float((labels == expected).mean()),
               "samples_per_second": len(labels) / seconds if seconds > 0 else None}
    log(f"{summary['samples']} samples: accuracy {100 * summary['accuracy']:.2f} %, "
        f"{100 * summary['agreement_with_golden']:.2f} % agree with the golden model, "
        f"{summary['samples_per_second']:.1f} samples/s (UART included)")
    return summary
