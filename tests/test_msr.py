"""MSR (meta.symmetry): layers, the seeded task family, equivariance, learners."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from meta.inner_loop import InnerLoop
from meta.symmetry import (
    MAML,
    MSR,
    Conv1dSignal,
    LocallyConnected1d,
    MAMLConfig,
    MSRConfig,
    ReparamConv1d,
    ReparamLinear,
    SymmetryTasks,
    conv_sharing_matrix,
    t_interval_95,
)

CPU = torch.device("cpu")
SMALL = dict(num_tasks=200, eval_tasks=20, meta_batch=4)


# ---------------------------------------------------------------- layers
def test_conv_sharing_matrix_makes_the_reparametrized_layer_a_convolution():
    layer = ReparamLinear(70, 68, latent=3)
    with torch.no_grad():
        layer.sharing.copy_(conv_sharing_matrix(70, 3))
    x = torch.randn(5, 70)
    expected = F.conv1d(x.unsqueeze(1), layer.filter.detach().view(1, 1, 3)).squeeze(1)
    assert torch.allclose(layer(x), expected, atol=1e-6)


def test_locally_connected_with_equal_rows_is_the_convolution():
    conv = Conv1dSignal(3)
    lc = LocallyConnected1d(70, 3)
    with torch.no_grad():
        lc.weight.copy_(conv.conv.weight.view(1, 3).expand(68, 3))
    x = torch.randn(4, 70)
    assert torch.allclose(lc(x), conv(x), atol=1e-6)


def test_reparam_conv_matches_conv1d_with_its_kernel():
    layer = ReparamConv1d(2, 3, kernel_size=3, latent=4)
    x = torch.randn(5, 2, 10)
    assert torch.allclose(layer(x), F.conv1d(x, layer.weight()))
    with pytest.raises(ValueError, match="in_channels == 1"):
        layer(torch.randn(5, 10))


def test_layer_arguments_are_checked():
    with pytest.raises(ValueError, match="latent must be a positive integer"):
        ReparamLinear(70, 68, latent=0)
    with pytest.raises(ValueError, match="exceeds"):
        LocallyConnected1d(2, 3)
    with pytest.raises(ValueError, match="length 70"):
        LocallyConnected1d(70, 3)(torch.randn(2, 71))


# ---------------------------------------------------------------- equivariance
def _shift(x: torch.Tensor) -> torch.Tensor:
    return torch.roll(x, 1, dims=-1)


def _equivariance_gap(params: dict, loop: InnerLoop) -> float:
    x = torch.randn(8, 70, dtype=torch.float64)
    y, y_shifted = loop.predict(params, x), loop.predict(params, _shift(x))
    # a valid convolution of the shifted signal is the shifted output, away from the wrapped-around edge
    return float((y_shifted[:, 1:] - y[:, :-1]).abs().max().detach())


def test_conv_sharing_stays_exactly_equivariant_after_adaptation_while_fc_does_not():
    torch.manual_seed(0)
    msr_layer = ReparamLinear(70, 68, latent=3).double()
    with torch.no_grad():
        msr_layer.sharing.copy_(conv_sharing_matrix(70, 3))
    fc_layer = nn.Linear(70, 68, bias=False).double()
    with torch.no_grad():  # start the FC layer at the very same (equivariant) Toeplitz weight
        fc_layer.weight.copy_(msr_layer.weight())
    msr = InnerLoop(msr_layer, ["filter"], lr_init=0.5)
    fc = InnerLoop(fc_layer, ["weight"], lr_init=0.5)
    x_support = torch.randn(1, 70, dtype=torch.float64)
    y_support = torch.randn(1, 68, dtype=torch.float64)
    assert _equivariance_gap(fc.initial(), fc) < 1e-12

    adapted_msr = msr.adapt(x_support, y_support)
    adapted_fc = fc.adapt(x_support, y_support)
    assert not torch.allclose(adapted_msr["filter"], msr_layer.filter)  # it did adapt
    assert _equivariance_gap(adapted_msr, msr) < 1e-12
    assert _equivariance_gap(adapted_fc, fc) > 1e-2


# ---------------------------------------------------------------- data
def test_task_family_is_a_deterministic_function_of_its_seed():
    a, b, c = SymmetryTasks("k2", seed=3), SymmetryTasks("k2", seed=3), SymmetryTasks("k2", seed=4)
    xa, ya = a.tasks([0, 7999, 9999])
    xb, yb = b.tasks([0, 7999, 9999])
    assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(xa, c.tasks([0, 7999, 9999])[0])
    # a task does not depend on which others are asked for with it
    assert torch.equal(a.tasks([7999])[1][0], ya[1])
    assert xa.shape == (3, 20, 70) and ya.shape == (3, 20, 68)


def test_targets_are_the_locally_connected_layer_of_the_task_filters():
    family = SymmetryTasks("k5", seed=1)
    x, y = family.tasks([5, 6])
    lc = LocallyConnected1d(70, 3)
    for i, filters in enumerate(family.filters([5, 6])):
        with torch.no_grad():
            lc.weight.copy_(filters)
        assert torch.allclose(lc(x[i]), y[i], atol=1e-5)


@pytest.mark.parametrize("problem,rank", [("k1", 1), ("k2", 2), ("k5", 5)])
def test_filters_have_the_rank_of_the_problem(problem, rank):
    family = SymmetryTasks(problem, seed=0)
    filters = family.filters(range(40))  # (40, 68, 3)
    if rank == 1:
        assert torch.equal(filters, filters[:, :1].expand_as(filters))  # one filter at every position
    # position j's filter is connectivity[j] @ basis: all tasks' filters span a rank-k position space
    per_position = filters.permute(1, 0, 2).reshape(68, -1).double()
    assert torch.linalg.matrix_rank(per_position, rtol=1e-5).item() == rank  # float32 data


def test_splits_and_bad_inputs():
    family = SymmetryTasks("k1")
    assert family.split_range("train") == range(0, 8000)
    assert family.split_range("test") == range(8000, 10000)
    idx = family.sample_indices("test", 300, np.random.default_rng(0), replace=False)
    assert len(set(idx.tolist())) == 300 and idx.min() >= 8000
    with pytest.raises(ValueError, match="problem must be one of"):
        SymmetryTasks("k3")
    with pytest.raises(ValueError, match="split must be"):
        family.split_range("val")
    with pytest.raises(ValueError, match="support must be in 1..19"):
        family.split_support_query(*family.tasks([0]), support=20)
    with pytest.raises(IndexError, match="outside"):
        family.tasks([10_000])


# ---------------------------------------------------------------- learners
def test_t_interval_matches_student_t_quantiles():
    # sample std 1: half-width = t_{0.975, n-1} / sqrt(n)
    for n, t in [(10, 2.262157), (300, 1.967929)]:
        values = torch.tensor([1.0, -1.0] * (n // 2))
        values = values / values.std()
        assert t_interval_95(values) == pytest.approx(t / n**0.5, rel=2e-3)


def test_learners_follow_the_algorithm_protocol():
    from launch.algorithm import Algorithm

    for learner in (MSR(MSRConfig(**SMALL), device=CPU, seed=0), MAML(MAMLConfig(model="lc", **SMALL), device=CPU, seed=0)):
        assert isinstance(learner, Algorithm)
        assert learner.unit == "meta_iterations" and learner.progress() == 0
        metrics = learner.step()
        assert learner.progress() == 1 and np.isfinite(metrics["losses/query_mse"])
        report = learner.evaluate()
        assert list(report.rows) == ["k1"] and report.metrics == ["test_mse", "test_mse_ci95"]


def test_msr_adapts_only_v_and_learns_u_in_the_outer_loop():
    learner = MSR(MSRConfig(problem="k2", **SMALL), device=CPU, seed=0)
    assert learner.inner.inner == ("filter",) and learner.inner.outer_only == ("sharing",)
    assert learner.inner.model.sharing.shape == (68 * 70, 6)
    sharing = learner.inner.model.sharing.detach().clone()
    learner.step()
    assert not torch.equal(sharing, learner.inner.model.sharing)
    assert learner.sharing_pattern().shape == (6, 68, 70)


def test_exact_resume_and_seeded_runs_match():
    config = MSRConfig(problem="k5", **SMALL)
    first = MSR(config, device=CPU, seed=3)
    for _ in range(3):
        first.step()
    buffer = io.BytesIO()  # the loop's checkpoints go through torch.save / a weights-only torch.load
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    continued = [first.step() for _ in range(2)]
    resumed = MSR(config, device=CPU, seed=3)
    resumed.load_state_dict(state)
    assert resumed.progress() == 3
    assert [resumed.step() for _ in range(2)] == continued
    assert resumed.evaluate().rows == first.evaluate().rows
    with pytest.raises(ValueError, match="checkpoint is for"):
        MSR(dataclasses.replace(config, problem="k1"), device=CPU, seed=3).load_state_dict(state)


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="model must be one of"):
        MAML(MAMLConfig(model="mlp", **SMALL), device=CPU, seed=0)
    with pytest.raises(ValueError, match="problem must be one of"):
        MSR(MSRConfig(problem="k4", **SMALL), device=CPU, seed=0)
    with pytest.raises(ValueError, match="meta_batch"):
        MSR(MSRConfig(meta_batch=0), device=CPU, seed=0)
    with pytest.raises(TypeError, match="MSRConfig"):
        MSR(MAMLConfig(), device=CPU, seed=0)


def test_maml_conv_improves_quickly_on_the_convolution_family():
    torch.set_num_threads(1)
    learner = MAML(MAMLConfig(model="conv", num_tasks=2000, eval_tasks=100), device=CPU, seed=0)
    before = learner.evaluate().rows["k1"]["test_mse"]
    for _ in range(100):
        learner.step()
    assert learner.evaluate().rows["k1"]["test_mse"] < 0.7 * before


@pytest.mark.slow
@pytest.mark.parametrize("problem,target", [("k1", 0.3), ("k5", 0.3)])
def test_msr_learns_the_sharing_pattern(problem, target):
    """Table 1's MSR-FC: .18 (k1) and .22 (k5); 1,500 outer steps reach it within 50%."""
    torch.set_num_threads(1)
    learner = MSR(MSRConfig(problem=problem), device=CPU, seed=0)
    for _ in range(1500):
        learner.step()
    assert learner.evaluate().rows[problem]["test_mse"] < target
