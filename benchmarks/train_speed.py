"""Training speed on a CPU: snnhw against snnTorch, Norse and SpikingJelly, one run.

The same network in each framework, the same input spikes, batch, threads and loss:
forward + backward + Adam step, median milliseconds per iteration after a warm-up.

* ``mlp``: 784-128-10 LIF MLP, T = 16, batch 128 (the issue's figures);
* ``cnn``: train/stbp_cnn.toml's network (16C5-AP2-32C5-AP2-10, T = 5, batch 50), snnhw
  against SpikingJelly (multi-step, torch backend).

Every framework gets a leak of 0.5 per step, threshold 0.5, reset to zero and an arctan
surrogate; inputs are Bernoulli spikes of the bundled digits. Prints a table, writes
``benchmarks/results/train_speed.json`` and regenerates the train_speed section of
docs/performance.md. Peers install with ``pip install --no-deps snntorch==1.0.0 norse==1.1.0
spikingjelly==2.0.0 loguru`` on the pinned CPU torch.

    python benchmarks/train_speed.py [--iterations 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from docblock import replace_block

LEAK, THRESHOLD = 0.5, 0.5


def _snnhw_mlp(steps: int) -> torch.nn.Module:
    from snnhw.nn import SpikingNetwork, mlp_architecture

    return SpikingNetwork(mlp_architecture([784, 128, 10], tau=LEAK, threshold=THRESHOLD,
                                           surrogate="arctan", width=2.0))


def _snnhw_cnn(steps: int) -> torch.nn.Module:
    from snnhw.nn import SpikingNetwork, architecture

    return SpikingNetwork(architecture([1, 28, 28], ["16C5", "AP2", "32C5", "AP2"], 10,
                                       tau=LEAK, threshold=THRESHOLD, surrogate="arctan",
                                       width=2.0))


def _per_step(net: torch.nn.Module) -> torch.nn.Module:
    """``net`` with every LIF run as the per-step autograd graph (snnhw before the fused
    LIF op), to measure what the fused op brings."""
    from snnhw.nn.lif import LIF

    for module in net.modules():
        if isinstance(module, LIF):
            module.forward = lambda current, m=module: m._run(current, None)
    return net


class _SnnTorchMLP(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        import snntorch as snn
        from snntorch import surrogate

        grad = surrogate.atan(alpha=2.0)
        self.fc1, self.fc2 = torch.nn.Linear(784, 128), torch.nn.Linear(128, 10)
        self.lif1 = snn.Leaky(beta=LEAK, threshold=THRESHOLD, spike_grad=grad,
                              reset_mechanism="zero")
        self.lif2 = snn.Leaky(beta=LEAK, threshold=THRESHOLD, spike_grad=grad,
                              reset_mechanism="zero")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        out = []
        for t in range(x.shape[0]):
            s1, mem1 = self.lif1(self.fc1(x[t]), mem1)
            s2, mem2 = self.lif2(self.fc2(s1), mem2)
            out.append(s2)
        return torch.stack(out)


class _NorseMLP(torch.nn.Module):
    """Norse's leaky integrator without synaptic current (LIFBoxCell, as the others), stepped
    over time."""

    def __init__(self) -> None:
        super().__init__()
        import norse.torch as norse

        params = norse.LIFBoxParameters(tau_mem_inv=torch.tensor(1000.0 * (1 - LEAK)),
                                        v_th=torch.tensor(THRESHOLD), v_reset=torch.tensor(0.0),
                                        method="super", alpha=torch.tensor(2.0))
        self.fc1, self.fc2 = torch.nn.Linear(784, 128), torch.nn.Linear(128, 10)
        self.lif1, self.lif2 = norse.LIFBoxCell(params), norse.LIFBoxCell(params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = s2 = None
        out = []
        for t in range(x.shape[0]):
            z1, s1 = self.lif1(self.fc1(x[t]), s1)
            z2, s2 = self.lif2(self.fc2(z1), s2)
            out.append(z2)
        return torch.stack(out)


def _spikingjelly(cnn: bool) -> torch.nn.Module:
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    def lif() -> torch.nn.Module:
        return neuron.LIFNode(tau=1 / (1 - LEAK), decay_input=False, v_threshold=THRESHOLD,
                              v_reset=0.0, surrogate_function=surrogate.ATan(alpha=2.0))

    if cnn:
        net = torch.nn.Sequential(
            layer.Conv2d(1, 16, 5, padding=2), lif(), layer.AvgPool2d(2),
            layer.Conv2d(16, 32, 5, padding=2), lif(), layer.AvgPool2d(2),
            layer.Flatten(), layer.Linear(32 * 7 * 7, 10), lif())
    else:
        net = torch.nn.Sequential(layer.Linear(784, 128), lif(), layer.Linear(128, 10), lif())
    functional.set_step_mode(net, "m")
    return net


def _step_fn(name: str, net: torch.nn.Module, x: torch.Tensor, target: torch.Tensor
             ) -> Callable[[], None]:
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def run() -> None:
        out = net(x)
        if name == "SpikingJelly":
            from spikingjelly.activation_based import functional

            functional.reset_net(net)
        loss = torch.nn.functional.mse_loss(out.mean(0).reshape(x.shape[1], -1), target)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return run


def _median_ms(runs: dict[str, Callable[[], None]], iterations: int, warmup: int = 5
               ) -> dict[str, float]:
    """Median milliseconds per call of each run, measured round-robin (one call of each per
    round) so that a drift in the machine's speed reaches every framework alike."""
    for run in runs.values():
        for _ in range(warmup):
            run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(iterations):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(1000 * (time.perf_counter() - start))
    return {name: statistics.median(t) for name, t in times.items()}


def _inputs(steps: int, batch: int, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    from snnhw.data import load_dataset

    data = load_dataset("mnist-subset")
    rng = np.random.default_rng(0)
    images = data.x_train[:batch].reshape(batch, *shape)
    spikes = (rng.random((steps, *images.shape)) < images).astype(np.float32)
    target = torch.nn.functional.one_hot(torch.from_numpy(data.y_train[:batch]).long(), 10)
    return torch.from_numpy(spikes), target.float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/train_speed.json")
    parser.add_argument("--doc", default="docs/performance.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = {
        "mlp": (16, 128, (784,), {
            "snnhw": lambda: _snnhw_mlp(16),
            "snnhw, per-step LIF": lambda: _per_step(_snnhw_mlp(16)), "snnTorch": _SnnTorchMLP,
            "Norse": _NorseMLP, "SpikingJelly": lambda: _spikingjelly(False)}),
        "cnn": (5, 50, (1, 28, 28), {
            "snnhw": lambda: _snnhw_cnn(5),
            "snnhw, per-step LIF": lambda: _per_step(_snnhw_cnn(5)),
            "SpikingJelly": lambda: _spikingjelly(True)}),
    }
    rows = []
    for case, (steps, batch, shape, frameworks) in cases.items():
        x, target = _inputs(steps, batch, shape)
        runs = {}
        for name, make in frameworks.items():
            torch.manual_seed(0)
            runs[name] = _step_fn(name, make(), x, target)
        for name, ms in _median_ms(runs, args.iterations).items():
            rows.append({"case": case, "framework": name, "ms_per_iteration": ms,
                         "steps": steps, "batch": batch, "threads": args.threads})
            print(f"{case:<4} {name:<20} {ms:8.2f} ms/iteration", flush=True)
    for case in cases:
        mine = next(r for r in rows if r["case"] == case and r["framework"] == "snnhw")
        peers = [r for r in rows if r["case"] == case and not r["framework"].startswith("snnhw")]
        fastest = min(peers, key=lambda r: r["ms_per_iteration"])
        mine["fastest_peer"] = fastest["framework"]
        mine["speedup_vs_fastest_peer"] = fastest["ms_per_iteration"] / mine["ms_per_iteration"]
        print(f"{case}: snnhw {mine['speedup_vs_fastest_peer']:.2f}x the fastest peer "
              f"({fastest['framework']})")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["## Training speed on a CPU", "",
             f"Regenerated by `python benchmarks/train_speed.py` (JSON in `{args.out}`): forward "
             f"+ backward + Adam step, median of {args.iterations} iterations after 5 warm-up "
             f"(measured round-robin: one iteration of each framework per round), "
             f"{args.threads} threads, the same input spikes, leak 0.5, threshold 0.5, zero "
             f"reset and arctan surrogate in every framework.", "",
             "| network | framework | ms / iteration | snnhw's speed-up over it |",
             "| --- | --- | --- | --- |"]
    for case in cases:
        mine = next(r for r in rows if r["case"] == case and r["framework"] == "snnhw")
        for r in (r for r in rows if r["case"] == case):
            label = ("784-128-10 MLP, T=16, batch 128" if case == "mlp" else
                     "stbp_cnn 16C5-AP2-32C5-AP2-10, T=5, batch 50")
            lines.append(f"| {label} | {r['framework']} | {r['ms_per_iteration']:.2f} | "
                         f"{r['ms_per_iteration'] / mine['ms_per_iteration']:.2f}x |")
    replace_block(Path(args.doc), "train_speed", "\n".join(lines))
    print(f"wrote {args.out} and the train_speed section of {args.doc}")


if __name__ == "__main__":
    main()
