"""Gradient surgery: PCGrad, CAGrad and FAMO against their papers' update rules."""

import math

import pytest
import torch

from agents.networks import TwinCritic
from agents.surgery import (
    CAGrad,
    FAMO,
    PCGrad,
    cagrad_combine,
    conflict_metrics,
    famo_gradient_weights,
    famo_logit_step,
    make_surgery,
    pcgrad_combine,
    per_task_gradients,
    project_to_simplex,
)
from torch.func import functional_call

torch.set_num_threads(1)
DOUBLE = torch.float64


def two_task_order():
    return torch.tensor([[0, 1], [1, 0]])


def test_pcgrad_removes_exactly_the_conflicting_component():
    g1, g2 = torch.tensor([1.0, 0.0], dtype=DOUBLE), torch.tensor([-1.0, 1.0], dtype=DOUBLE)
    combined, gram = pcgrad_combine(torch.stack([g1, g2]), two_task_order(), reduction="sum")
    # by hand: g1' = g1 - (g1.g2)/|g2|^2 g2 = (0.5, 0.5); g2' = g2 - (g2.g1)/|g1|^2 g1 = (0, 1)
    torch.testing.assert_close(combined, torch.tensor([0.5, 1.5], dtype=DOUBLE))
    mean, _ = pcgrad_combine(torch.stack([g1, g2]), two_task_order(), reduction="mean")
    torch.testing.assert_close(mean, torch.tensor([0.25, 0.75], dtype=DOUBLE))
    metrics = conflict_metrics(gram)
    assert float(metrics["conflicting_pairs"]) == 1.0
    assert math.isclose(float(metrics["mean_cosine"]), -1 / math.sqrt(2), rel_tol=1e-9)


def test_pcgrad_leaves_aligned_gradients_untouched():
    grads = torch.tensor([[1.0, 0.0, 2.0], [1.0, 1.0, 0.0], [0.5, 0.0, 0.0]], dtype=DOUBLE)
    order = torch.stack([torch.randperm(3) for _ in range(3)])
    combined, gram = pcgrad_combine(grads, order, reduction="mean")
    torch.testing.assert_close(combined, grads.mean(0))
    assert float(conflict_metrics(gram)["conflicting_pairs"]) == 0.0


def naive_pcgrad(grads, order, eps=1e-12):
    """Alg. 1 of Yu et al. (2020), written plainly on the gradients."""
    projected = []
    for i in range(len(grads)):
        g = grads[i].clone()
        for j in order[i].tolist():
            if j != i and g @ grads[j] < 0:
                g = g - (g @ grads[j]) / (grads[j] @ grads[j] + eps) * grads[j]
        projected.append(g)
    return torch.stack(projected).sum(0)


def test_pcgrad_coefficient_space_matches_sequential_projections():
    generator = torch.Generator().manual_seed(3)
    for t in (3, 5, 8):
        grads = torch.randn(t, 20, generator=generator, dtype=DOUBLE)
        order = torch.rand(t, t, generator=generator).argsort(1)
        combined, _ = pcgrad_combine(grads, order, reduction="sum")
        torch.testing.assert_close(combined, naive_pcgrad(grads, order))


def critic_and_batches(num_tasks=3, per_task=16, conditioning="multi_head"):
    torch.manual_seed(0)
    critic = TwinCritic(5, 2, num_tasks, (32, 32), conditioning)
    obs = torch.randn(num_tasks, per_task, 5)
    action = torch.randn(num_tasks, per_task, 2)
    target = torch.randn(num_tasks, per_task, 1)
    task_id = torch.arange(num_tasks).unsqueeze(1).expand(num_tasks, per_task)
    return critic, (obs, action, target, task_id)


def critic_task_loss(critic):
    def loss(params, batch):
        obs, action, target, task_id = batch
        q = functional_call(critic, params, (obs, action, task_id))
        return (q - target).pow(2).mean() * (1.0 + task_id[0])  # task-dependent scale

    return loss


@pytest.mark.parametrize("conditioning", ["one_hot", "multi_head"])
def test_batched_task_gradients_equal_separate_backward_passes(conditioning):
    critic, batches = critic_and_batches(conditioning=conditioning)
    task_loss = critic_task_loss(critic)
    losses, grads = per_task_gradients(critic, task_loss, batches)
    grads = torch.cat([g.flatten(1) for g in grads], 1)
    for t in range(3):
        critic.zero_grad()
        loss = task_loss(dict(critic.named_parameters()), tuple(b[t] for b in batches))
        loss.backward()
        expected = torch.cat([p.grad.flatten() for p in critic.parameters()])
        torch.testing.assert_close(grads[t], expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(losses[t], loss.detach())


def test_pcgrad_surgery_step_writes_the_projected_gradient():
    critic, batches = critic_and_batches()
    task_loss = critic_task_loss(critic)
    _, grads = per_task_gradients(critic, task_loss, batches)
    grads = torch.cat([g.flatten(1) for g in grads], 1)
    surgery = PCGrad(3, torch.device("cpu"), seed=7)
    order = torch.rand(3, 3, generator=torch.Generator().manual_seed(7)).argsort(1)
    expected = naive_pcgrad(grads, order) / 3
    optimizer = torch.optim.SGD(critic.parameters(), lr=0.0)
    result = surgery.step(critic, optimizer, task_loss, batches)
    written = torch.cat([p.grad.flatten() for p in critic.parameters()])
    torch.testing.assert_close(written, expected, atol=1e-6, rtol=1e-5)
    assert set(result.metrics) == {"conflicting_pairs", "mean_cosine"}


def test_simplex_projection():
    w = project_to_simplex(torch.tensor([0.8, 0.6, -0.3], dtype=DOUBLE))
    torch.testing.assert_close(w, torch.tensor([0.6, 0.4, 0.0], dtype=DOUBLE))


def test_cagrad_symmetric_toy_by_hand():
    # g1 = e1, g2 = e2: by symmetry w = (1/2, 1/2), |g_w| = |g0| = sqrt(1/2),
    # so d = g0 + c |g0| / |g_w| g_w = (1 + c) g0
    grads = torch.eye(2, dtype=DOUBLE)
    direction, _ = cagrad_combine(grads, c=0.4)
    torch.testing.assert_close(direction, torch.tensor([0.7, 0.7], dtype=DOUBLE), atol=1e-6, rtol=0)
    plain, _ = cagrad_combine(grads, c=0.0)
    torch.testing.assert_close(plain, grads.mean(0))


def test_cagrad_maximizes_the_worst_task_improvement_in_its_ball():
    # Primal problem (Liu et al. 2021, Eq. 2): max_d min_i g_i.d s.t. |d - g0| <= c |g0|
    grads = torch.tensor([[1.0, 0.2], [-0.6, 1.0]], dtype=DOUBLE)
    c = 0.4
    direction, _ = cagrad_combine(grads, c=c)
    g0 = grads.mean(0)
    radius = c * g0.norm()
    assert (direction - g0).norm() <= radius + 1e-6
    angles = torch.linspace(0, 2 * math.pi, 20001, dtype=DOUBLE)
    boundary = g0 + radius * torch.stack([angles.cos(), angles.sin()], 1)
    best = (boundary @ grads.T).min(1).values.max()
    assert float((grads @ direction).min()) >= float(best) - 1e-5


def test_famo_weights_and_logit_step_by_hand():
    logits = torch.zeros(2, dtype=DOUBLE)
    losses = torch.tensor([2.0, 0.5], dtype=DOUBLE)
    # z = (1/2, 1/2); z / l = (1/4, 1); c = 1 / (5/4): weights (0.2, 0.8)
    torch.testing.assert_close(famo_gradient_weights(losses, logits), torch.tensor([0.2, 0.8], dtype=DOUBLE))
    new_losses = torch.tensor([1.0, 0.5], dtype=DOUBLE)
    beta, gamma = 0.1, 0.01
    # decrease of log losses (log 2, 0); J^T v = z (v - z.v) = (log2 / 4, -log2 / 4)
    expected = -beta * torch.tensor([math.log(2) / 4, -math.log(2) / 4], dtype=DOUBLE)
    torch.testing.assert_close(famo_logit_step(logits, losses, new_losses, beta, gamma), expected)
    # decay pulls logits toward 0 when the losses do not move
    moved = famo_logit_step(torch.tensor([1.0, -1.0], dtype=DOUBLE), losses, losses, beta, gamma)
    torch.testing.assert_close(moved, torch.tensor([1.0 - beta * gamma, -1.0 + beta * gamma], dtype=DOUBLE))


def test_famo_step_uses_weighted_gradient_and_updates_logits():
    critic, batches = critic_and_batches()
    task_loss = critic_task_loss(critic)
    losses, grads = per_task_gradients(critic, task_loss, batches)
    grads = torch.cat([g.flatten(1) for g in grads], 1)
    surgery = FAMO(3, torch.device("cpu"), beta=0.5, gamma=0.0)
    expected_grad = famo_gradient_weights(losses + surgery.eps, surgery.logits) @ grads
    optimizer = torch.optim.SGD(critic.parameters(), lr=1e-2)
    surgery.step(critic, optimizer, task_loss, batches)
    # SGD's step reveals the gradient that was written: delta = -lr * grad
    written = torch.cat([p.grad.flatten() for p in critic.parameters()])
    torch.testing.assert_close(written, expected_grad, atol=1e-5, rtol=1e-4)
    with torch.no_grad():
        new_losses = torch.stack([task_loss(dict(critic.named_parameters()), tuple(b[t] for b in batches)) for t in range(3)])
    expected_logits = famo_logit_step(torch.zeros(3), losses + surgery.eps, new_losses + surgery.eps, 0.5, 0.0)
    torch.testing.assert_close(surgery.logits, expected_logits, atol=1e-5, rtol=1e-4)


def test_state_round_trip_and_bad_names():
    surgery = make_surgery("pcgrad", 4, torch.device("cpu"), seed=1)
    state = surgery.state_dict()
    first = torch.rand(3, generator=surgery.generator)
    surgery.load_state_dict(state)
    torch.testing.assert_close(torch.rand(3, generator=surgery.generator), first)
    assert isinstance(make_surgery("cagrad", 4, torch.device("cpu"), c=0.2), CAGrad)
    with pytest.raises(ValueError, match="accepted: none, pcgrad, cagrad, famo"):
        make_surgery("gradnorm", 4, torch.device("cpu"))
    with pytest.raises(ValueError, match="reduction"):
        PCGrad(2, torch.device("cpu"), reduction="max")
