"""Run stage: stream samples to a board over the UART host link and score its answers.

:class:`BoardLink` speaks protocol v1 (:mod:`snnhw.protocol`) over any byte stream with
``read(n)`` and ``write(data)``: a pyserial port for a real board, a pseudo-terminal to the
cosimulated design in the tests. :func:`run_board` streams a build's test samples and reports
accuracy (against the labels and against the golden model) and throughput.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from . import SnnhwError, golden, ir
from .build import load_dataset
from .data import encode_numpy
from .protocol import (
    IDENTIFY,
    IDENTITY_LENGTH,
    Identity,
    Result,
    decode_identity,
    decode_result,
    encode_sample,
    result_length,
)

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

    def _read(self, size: int, what: str) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.stream.read(size - len(data))
            if not chunk:
                raise SnnhwError(f"board link: timed out waiting for the {what} "
                                 f"({len(data)} of {size} bytes: {data.hex()})")
            data += chunk
        return data

    def identify(self) -> Identity:
        self.stream.write(bytes([IDENTIFY]))
        identity = decode_identity(self._read(IDENTITY_LENGTH, "identity frame"))
        self.identity = identity
        return identity

    def classify(self, spikes: np.ndarray) -> Result:
        """Send one sample's spikes ``[T, F]``; return the board's class and counts."""
        identity = self.identity or self.identify()
        if spikes.shape != (identity.timesteps, identity.input_features):
            raise SnnhwError(f"sample shape {spikes.shape} does not match the board's network "
                             f"({identity.timesteps} timesteps x {identity.input_features} inputs)")
        self.stream.write(encode_sample(spikes))
        raw = self._read(result_length(identity.classes), "result frame")
        try:
            return decode_result(raw, identity.classes)
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
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Stream the first ``samples`` test samples of build ``folder`` through the board."""
    net = ir.load(Path(folder) / "ir")
    data = load_dataset(net.dataset)
    inputs = encode_numpy(data.x_test[:samples], net.encoding)
    inputs = inputs.reshape(inputs.shape[0], inputs.shape[1], -1)
    expected = golden.predict(golden.run(net, inputs).output, net.vote_group)
    link = BoardLink(stream)
    identity = link.identify()
    wanted = (net.input_features, net.timesteps, net.vote_group)
    if (identity.input_features, identity.timesteps, identity.vote_group) != wanted:
        raise SnnhwError(f"the board carries a different network: {identity} vs the build's "
                         f"{wanted} (inputs, timesteps, vote group)")
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
