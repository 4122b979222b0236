"""Training methods: each backward pass against its closed form, each method trainable."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from snnhw.nn import LIF, SpikingNetwork, architecture
from snnhw.nn.layers import Dropout, NeuNorm, Voting
from snnhw.nn.rate_grad import hm2bp_forward, hm2bp_kernel, leak_aware_factor, leak_aware_forward
from snnhw.train import Recipe, train


def _spike_trains(rng: np.random.Generator, shape, p=0.4) -> torch.Tensor:
    return torch.from_numpy((rng.random(shape) < p).astype(np.float64))


def test_hm2bp_kernel_is_the_spike_train_level_psp():
    """e_ij = sum over output spikes t, inputs m in (previous output spike, t], of tau^(t-m);
    a silent neuron counts as firing once at the last step."""
    rng = np.random.default_rng(0)
    out = _spike_trains(rng, (9, 3, 4))
    out[:, 1, 2] = 0
    x = _spike_trains(rng, (9, 3, 5))
    tau = 0.7
    psp = torch.einsum("mbi,mbj->bij", hm2bp_kernel(out, tau), x)
    for b in range(3):
        for i in range(4):
            last = -1
            fires = out[:, b, i].clone()
            if fires.sum() == 0:
                fires[8] = 1
            for t in range(9):
                if fires[t]:
                    for j in range(5):
                        want = sum(tau ** (t - m) * x[m, b, j] for m in range(last + 1, t + 1))
                        psp[b, i, j] -= want
                    last = t
    assert float(psp.abs().max()) < 1e-12


def test_hm2bp_gradients_follow_the_macro_and_micro_levels():
    rng = np.random.default_rng(1)
    dense = torch.nn.Linear(5, 4).double()
    lif = LIF(tau=0.8, threshold=0.6, gradient="hm2bp")
    x = _spike_trains(rng, (8, 3, 5)).requires_grad_(True)
    out = hm2bp_forward(dense, lif, x)
    np.testing.assert_array_equal(out.detach(), lif(dense(x.detach())).detach())
    grad_count = torch.from_numpy(rng.normal(size=(3, 4)))
    (out.sum(0) * grad_count).sum().backward()
    spikes = out.detach()
    psp = torch.einsum("mbi,mbj->bij", hm2bp_kernel(spikes, 0.8), x.detach())
    delta = grad_count / 0.6
    torch.testing.assert_close(dense.weight.grad, torch.einsum("bi,bij->ij", delta, psp))
    n_in = x.detach().sum(0)
    micro = torch.einsum("bi,ij,bij->bj", delta, dense.weight.detach(), psp) / n_in.clamp(min=1)
    for t in range(8):  # every timestep of an input spike train gets the count's error
        torch.testing.assert_close(x.grad[t], micro)
    assert float(dense.weight.grad.abs().sum()) > 0


def test_leak_aware_factor_is_one_over_vth_times_one_plus_eps():
    rng = np.random.default_rng(2)
    spikes = _spike_trains(rng, (10, 4, 5))
    filtered = sum(0.9 ** (9 - t) * spikes[t] for t in range(10))
    gamma = spikes.sum(0)
    eps = torch.where(gamma > 0, math.log(0.9) * filtered / gamma.clamp(min=1), 0 * gamma)
    torch.testing.assert_close(leak_aware_factor(spikes, 0.9, 0.5), (1 + eps) / 0.5)
    assert 0 < float(gamma.sum()) < gamma.numel() * 10


def test_leak_aware_error_of_a_current_is_that_of_the_next_spike():
    """Lee et al.'s backward, spike by spike: the current of step t gets f dL/do[s], s the
    first spike at or after t (none: no error), f the neuron's leak-aware factor."""
    rng = np.random.default_rng(3)
    dense = torch.nn.Linear(6, 5).double()
    lif = LIF(tau=0.9, threshold=0.5, gradient="leak_aware")
    x = _spike_trains(rng, (12, 4, 6)).requires_grad_(True)
    seen: list[torch.Tensor] = []

    def synapse(inputs: torch.Tensor) -> torch.Tensor:   # dense, its output kept
        seen.append(dense(inputs))
        seen[0].retain_grad()
        return seen[0]

    out = leak_aware_forward(synapse, lif, x)
    current = seen[0]
    spikes = out.detach()
    torch.testing.assert_close(spikes, lif(current.detach()))
    grad_out = torch.from_numpy(rng.normal(size=spikes.shape))
    (out * grad_out).sum().backward()
    factor = leak_aware_factor(spikes, 0.9, 0.5)
    want = torch.zeros_like(spikes)
    steps, batch, neurons = spikes.shape
    for b in range(batch):
        for i in range(neurons):
            for t in range(steps):
                later = [s for s in range(t, steps) if spikes[s, b, i] > 0]
                if later:
                    want[t, b, i] = factor[b, i] * grad_out[later[0], b, i]
    torch.testing.assert_close(current.grad, want)
    torch.testing.assert_close(dense.weight.grad, torch.einsum("tbi,tbj->ij", want, x.detach()))
    torch.testing.assert_close(x.grad, want @ dense.weight.detach())
    silent = spikes.sum(0) == 0
    after_last = torch.zeros_like(spikes, dtype=torch.bool)   # steps after a neuron's last spike
    for t in range(steps):
        after_last[t] = spikes[t:].sum(0) == 0
    assert silent.any() and (~silent).any() and after_last.any() and (~after_last).any()
    assert float(current.grad[after_last].abs().max()) == 0.0
    assert float(current.grad[~after_last].abs().min()) > 0.0


def test_bpsta_spatial_adjustment_is_one_over_u_on_spikes_only():
    lif = LIF(tau=0.0, threshold=0.5, gradient="bpsta", temporal_adjust=False)
    current = torch.tensor([[[0.4, 0.5, 0.8]]], dtype=torch.float64, requires_grad=True)
    lif(current).sum().backward()
    torch.testing.assert_close(current.grad, torch.tensor([[[0.0, 2.0, 1.25]]], dtype=torch.float64))
    plain = LIF(tau=0.0, threshold=0.5, gradient="bpsta", spatial_adjust=False,
                temporal_adjust=False, surrogate="rectangular", width=1.0)
    current.grad = None
    plain(current).sum().backward()
    torch.testing.assert_close(current.grad, torch.ones_like(current))


def test_bpsta_temporal_adjustment_carries_error_across_a_spike():
    """A spike at t=0 resets the membrane; only the temporal path reaches u[0] from o[1]."""
    def grad_through_reset(temporal: bool) -> float:
        lif = LIF(tau=0.5, threshold=1.0, gradient="bpsta", spatial_adjust=False,
                  temporal_adjust=temporal, surrogate="rectangular", width=4.0)
        current = torch.tensor([[[1.5]], [[0.8]]], dtype=torch.float64, requires_grad=True)
        out = lif(current)
        assert out.detach().flatten().tolist() == [1.0, 0.0]
        out[1].sum().backward()
        return float(current.grad[0])
    # o[1] = H(u[1]); u[1] = 0.2 * tau * o[0] (+ detached reset); do[0]/du[0] = 1/4 (window 4)
    assert grad_through_reset(False) == 0.0
    assert grad_through_reset(True) == pytest.approx(0.25 * 0.2 * 0.5 * 0.25)


def test_dropout_mask_is_shared_by_all_timesteps():
    torch.manual_seed(0)
    drop = Dropout(0.5)
    out = drop(torch.ones(6, 8, 20))
    assert torch.equal(out, out[0].expand_as(out))
    assert set(out.unique().tolist()) == {0.0, 2.0}
    drop.eval()
    assert torch.equal(drop(torch.ones(6, 8, 20)), torch.ones(6, 8, 20))


def test_neunorm_integrates_the_channel_mean_and_subtracts_it():
    rng = np.random.default_rng(3)
    spikes = _spike_trains(rng, (5, 2, 3, 4, 4)).float()
    norm = NeuNorm(3, 4, 4, tau=0.6, v=0.3)
    with torch.no_grad():
        norm.alpha.copy_(torch.from_numpy(rng.normal(size=(3, 4, 4))).float())
    aux = torch.zeros(2, 1, 4, 4)
    for t in range(5):
        aux = 0.6 * aux + 0.3 * spikes[t].mean(1, keepdim=True)
        torch.testing.assert_close(norm(spikes)[t], spikes[t] - norm.alpha * aux)


def test_voting_averages_each_class_group():
    x = torch.arange(12.0).reshape(1, 1, 12)
    assert Voting(3, 4)(x).flatten().tolist() == [1.5, 5.5, 9.5]


def test_paper_cnn_architecture_with_width_multiplier():
    arch = architecture([1, 28, 28], ["128C3", "128C3", "AP2", "384C3", "384C3", "AP2",
                                      "1024FC", "512FC"], 10, tau=0.25, threshold=0.5,
                        voting=10, width_mult=0.125, neunorm=True)
    kinds = [spec["type"] for spec in arch]
    assert kinds.count("conv2d") == 4 and kinds.count("neunorm") == 2
    assert [s["out_channels"] for s in arch if s["type"] == "conv2d"] == [16, 16, 48, 48]
    assert [s["out_features"] for s in arch if s["type"] == "dense"] == [128, 64, 100]
    assert kinds[-1] == "voting"
    out = SpikingNetwork(arch)(torch.rand(3, 2, 784))
    assert out.shape == (3, 2, 10)


SMALL = {"layers": ["32FC"], "timesteps": 6, "epochs": 3, "batch_size": 10,
         "train_samples": 1000}
METHODS = {
    "stbp": {},
    "stbp_gaussian": {"surrogate": "gaussian", "width": 0.3},
    "hm2bp": {"method": "hm2bp", "loss": "count", "tau": 0.9, "threshold": 0.5,
              "timesteps": 10, "layers": ["64FC"], "epochs": 4},
    "leak_aware": {"method": "leak_aware", "tau": 0.99, "threshold": 1.0, "dropout": 0.1,
                   "readout": "li", "readout_tau": 0.0, "loss": "count_ce"},
    "bpsta": {"method": "bpsta", "tau": 0.9, "voting": 10},
    "neunorm": {"method": "neunorm", "layers": ["4C3", "4C3", "AP2"], "neunorm": True,
                "encoding": "direct", "voting": 5, "tau": 0.25, "timesteps": 3, "epochs": 2,
                "train_samples": 800},
    "latency": {"encoding": "latency", "timesteps": 8},
    "count_ce": {"loss": "count_ce"},
}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_each_method_trains_well_above_chance(method, tmp_path):
    """160-400 steps on up to 1,000 digits: the loss falls and test accuracy is far above
    chance (10 %)."""
    recipe = Recipe(name=method, **{**SMALL, **METHODS[method]})
    metrics = train(recipe, tmp_path / "model.pt", progress=False)
    losses = [h["loss"] for h in metrics["history"]]
    assert losses[-1] < losses[0], losses
    assert metrics["test_accuracy"] > 0.6, metrics["test_accuracy"]


def test_training_is_deterministic(tmp_path):
    recipe = Recipe(name="det", **{**SMALL, "epochs": 1, "dropout": 0.2})
    first = train(recipe, tmp_path / "a.pt", progress=False)
    second = train(recipe, tmp_path / "b.pt", progress=False)
    a = torch.load(tmp_path / "a.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "b.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert first["history"] == second["history"]
