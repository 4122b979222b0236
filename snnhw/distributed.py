"""Data-parallel training on several processes: torch.distributed, gloo on CPUs, NCCL on GPUs.

``snnhw train recipe.toml --nproc N`` starts N processes on this machine (or run it under
``torchrun --nproc-per-node N -m snnhw train recipe.toml``, which sets ``RANK``,
``WORLD_SIZE`` and the rendezvous). Every process draws the same global batch and its input
spikes with the same generator, takes its contiguous share of the samples, and scales its
loss by ``share * N / batch``; DistributedDataParallel averages the gradients, so a step
is the one-process step on the same global batch (up to the order of float additions). Only
rank 0 evaluates, shows progress and writes model.pt and its metrics, at the end.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import SnnhwError

__all__ = ["World", "from_environment", "train_parallel"]


@dataclass(frozen=True)
class World:
    """This process's rank among ``size`` training processes."""

    rank: int
    size: int

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def share(self, count: int) -> slice:
        """This rank's contiguous share of ``count`` samples (sizes differ by at most 1)."""
        base, extra = divmod(count, self.size)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (self.rank < extra))


def backend(device: str) -> str:
    """The process group's backend for training on ``device``: NCCL between GPUs, else gloo."""
    return "nccl" if device == "cuda" else "gloo"


def from_environment(device: str = "cpu") -> World | None:
    """The world torchrun describes (``RANK``, ``WORLD_SIZE``), its process group started
    (:func:`backend` of ``device``); ``None`` outside torchrun or with one process."""
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) < 2:
        return None
    world = World(rank=int(os.environ["RANK"]), size=int(os.environ["WORLD_SIZE"]))
    if not torch.distributed.is_initialized():
        try:
            torch.distributed.init_process_group(backend(device))
        except (RuntimeError, ValueError) as exc:
            raise SnnhwError(f"torchrun rendezvous failed ({exc}); MASTER_ADDR and "
                             f"MASTER_PORT name rank 0's address") from None
    return world


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, size: int, port: int, recipe: Any, out: str, progress: bool) -> None:
    from .train import train

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // size))
    torch.distributed.init_process_group(backend(recipe.device),
                                         init_method=f"tcp://127.0.0.1:{port}",
                                         rank=rank, world_size=size)
    try:
        train(recipe, out, progress=progress and rank == 0, world=World(rank, size))
    finally:
        torch.distributed.destroy_process_group()


def train_parallel(recipe: Any, out: str | Path, nproc: int, *, progress: bool = True) -> None:
    """Train ``recipe`` on ``nproc`` local processes (rank 0 writes ``out``). A rank that
    fails or dies ends the run with an error naming it; nothing is written then."""
    if nproc < 2:
        raise SnnhwError(f"--nproc {nproc}: data-parallel training needs at least 2 processes")
    if recipe.device == "cuda" and nproc > torch.cuda.device_count():
        raise SnnhwError(f"--nproc {nproc} --device cuda: one process per GPU, and this "
                         f"machine has {torch.cuda.device_count()}")
    if nproc > recipe.batch_size:
        raise SnnhwError(f"--nproc {nproc}: more processes than samples in a batch "
                         f"(batch_size {recipe.batch_size})")
    import torch.multiprocessing as mp

    try:
        mp.spawn(_worker, args=(nproc, _free_port(), recipe, str(out), progress), nprocs=nproc,
                 join=True)
    except mp.ProcessRaisedException as exc:
        last = str(exc).strip().splitlines()[-1]
        raise SnnhwError(f"--nproc {nproc}: a training process failed: {last}") from None
    except mp.ProcessExitedException as exc:
        raise SnnhwError(f"--nproc {nproc}: a training process died ({exc})") from None
