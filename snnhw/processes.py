"""Child processes and signals: every tool snnhw starts ends with the run.

Simulators, ``make``, the C++ compiler, Yosys and nextpnr run through :func:`run`, each in a
session (process group) of its own, so that ``make`` and the compilers it starts can be ended
together: when the run is interrupted (Ctrl-C, SIGTERM, SIGHUP, or any exception while the
child runs) the whole group gets SIGTERM and, after a grace period, SIGKILL.

:func:`signals_raise` turns SIGTERM and SIGHUP into a :class:`Terminated` exception in the
main thread, so they unwind through the same clean-up (staging folders, locks, child
groups) as Ctrl-C's ``KeyboardInterrupt``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import IO, Any, Iterator, Sequence

__all__ = ["GRACE_SECONDS", "Terminated", "cocotb_runner", "run", "run_all", "signals_raise"]

GRACE_SECONDS = 3.0
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived; ``signum`` says which. A ``BaseException`` like
    ``KeyboardInterrupt``, so ``except Exception`` clauses do not swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block SIGTERM and SIGHUP raise :class:`Terminated`; the previous
    handlers come back afterwards."""
    previous = {sig: signal.signal(sig, _raise_terminated) for sig in HANDLED_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _end_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the child's process group, SIGKILL to what is left after the grace time."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            # the leader is gone; members it left (a compiler under make) get SIGKILL too
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        return


def run(cmd: Sequence[str], *, cwd: Any = None, env: dict[str, str] | None = None,
        stdout: IO[Any] | int | None = None, stderr: IO[Any] | int | None = None) -> int:
    """Run ``cmd`` in its own process group and wait; returns its exit status. If this
    process is interrupted meanwhile, the child's whole group is ended before re-raising."""
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=stdout, stderr=stderr,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        return proc.wait()
    except BaseException:
        _end_group(proc)
        raise


def run_all(jobs: Sequence[tuple[Sequence[str], dict[str, Any]]]) -> list[int]:
    """Run several commands at once (each ``(cmd, keywords)``, the keywords of :func:`run`),
    each in its own process group, and wait for all; returns their exit statuses. If this
    process is interrupted meanwhile, every child's group is ended before re-raising."""
    procs: list[subprocess.Popen] = []
    try:
        for cmd, keywords in jobs:
            procs.append(subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL,
                                          start_new_session=True, **keywords))
        return [proc.wait() for proc in procs]
    except BaseException:
        for proc in procs:
            _end_group(proc)
        raise


def cocotb_runner(sim: str):
    """cocotb-tools' runner for ``sim`` whose commands (the simulator's compiler, ``make``,
    the simulation) run through :func:`run`."""
    from cocotb_tools.runner import get_runner

    base = type(get_runner(sim))

    class GroupedRunner(base):   # type: ignore[misc, valid-type]
        def _execute_cmds(self, cmds, cwd, stdout=None) -> None:
            for cmd in cmds:
                code = run(cmd, cwd=cwd, env=self.env, stdout=stdout,
                           stderr=None if stdout is None else subprocess.STDOUT)
                if code != 0:
                    raise RuntimeError(f"Command failed with return code: {code}")

    GroupedRunner.__name__ = f"Grouped{base.__name__}"
    return GroupedRunner()
