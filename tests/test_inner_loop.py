"""The shared functional inner loop: what adapts, what does not, where gradients go."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from meta.inner_loop import InnerLoop


class TwoPart(nn.Module):
    """y = head(features(x)): ``features`` outer-only, ``head`` adapted."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Linear(4, 5)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        return self.head(torch.tanh(self.features(x)))


def make(**kwargs) -> InnerLoop:
    torch.manual_seed(0)
    return InnerLoop(TwoPart().double(), ["head.weight", "head.bias"], **kwargs)


def batch(tasks=3, support=2, query=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    rand = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    return rand(tasks, support, 4), rand(tasks, support, 2), rand(tasks, query, 4), rand(tasks, query, 2)


def test_gradients_reach_every_meta_parameter():
    loop = make(steps=2)
    loss = loop.batch_task_loss(*batch()).sum()
    loss.backward()
    for name, param in loop.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    # the learning rates are meta-parameters too
    assert {n for n, _ in loop.named_parameters()} >= {"lrs.head__weight", "lrs.head__bias"}


def test_outer_gradient_is_second_order_unless_first_order():
    """Through the inner step the outer-only features' gradient differs from first-order MAML's."""
    data = batch()
    grads = {}
    for first_order in (False, True):
        loop = make()
        loop.batch_task_loss(*data, first_order=first_order).sum().backward()
        grads[first_order] = loop.model.features.weight.grad.clone()
    assert not torch.allclose(grads[False], grads[True])


def test_inner_parameters_change_and_outer_ones_do_not():
    loop = make()
    xs, ys, _, _ = batch()
    before = {n: p.detach().clone() for n, p in loop.model.named_parameters()}
    adapted = loop.batch_adapt(xs, ys)
    assert set(adapted) == {"head.weight", "head.bias"}
    for name, tensor in adapted.items():
        assert tensor.shape == (3, *before[name].shape)
        for task in range(3):
            assert not torch.allclose(tensor[task], before[name]), name
    # the module itself is untouched: adaptation is functional
    for name, param in loop.model.named_parameters():
        assert torch.equal(param, before[name]), name
    # outer-only parameters are used as they are: predictions with the adapted head
    # equal a plain forward pass whose head was overwritten by hand
    x = torch.randn(5, 4, dtype=torch.float64)
    with torch.no_grad():
        loop.model.head.weight.copy_(adapted["head.weight"][1])
        loop.model.head.bias.copy_(adapted["head.bias"][1])
        assert torch.allclose(loop.model(x), loop.predict({k: v[1] for k, v in adapted.items()}, x))


def test_one_step_is_exactly_sgd_with_the_learned_rate():
    loop = make(lr_init=0.3)
    xs, ys, _, _ = batch(tasks=1)
    params = {n: p.detach().clone().requires_grad_() for n, p in loop.initial().items()}
    loss = loop.loss(loop.predict(params, xs[0]), ys[0])
    expected = {n: params[n] - 0.3 * g for n, g in zip(params, torch.autograd.grad(loss, list(params.values())))}
    adapted = loop.adapt(xs[0], ys[0])
    for name in expected:
        assert torch.allclose(adapted[name], expected[name])


def test_vmap_equals_a_loop_over_tasks():
    loop = make(steps=3)
    data = batch(tasks=4)
    batched = loop.batch_task_loss(*data)
    looped = torch.stack([loop.task_loss(*(t[i] for t in data)) for i in range(4)])
    assert torch.allclose(batched, looped, atol=1e-12)
    g_batched = torch.autograd.grad(batched.sum(), list(loop.parameters()))
    g_looped = torch.autograd.grad(looped.sum(), list(loop.parameters()))
    for a, b in zip(g_batched, g_looped):
        assert torch.allclose(a, b, atol=1e-12)


def test_frozen_learning_rate_gets_no_gradient():
    loop = make(learn_lr=False)
    loop.batch_task_loss(*batch()).sum().backward()
    assert all(lr.grad is None for lr in loop.lrs.values())


def test_grouped_parameters_share_one_learned_rate():
    loop = make(lr_groups={"head.weight": "head", "head.bias": "head"})
    assert list(loop.lrs) == ["head"] and loop.lr("head.weight") is loop.lr("head.bias")
    loop.batch_task_loss(*batch()).sum().backward()
    assert loop.lrs["head"].grad is not None
    with pytest.raises(ValueError, match="exactly the inner parameters"):
        make(lr_groups={"head.weight": "head"})


def test_bad_arguments_are_refused_with_what_is_accepted():
    with pytest.raises(ValueError, match="not parameters of the model.*head.bias"):
        InnerLoop(TwoPart(), ["head.weigth"])
    with pytest.raises(ValueError, match="at least one"):
        InnerLoop(TwoPart(), [])
    with pytest.raises(ValueError, match="steps"):
        InnerLoop(TwoPart(), ["head.bias"], steps=0)
    with pytest.raises(ValueError, match="lr_init"):
        InnerLoop(TwoPart(), ["head.bias"], lr_init=0.0)
    loop = make()
    xs, ys, xq, yq = batch()
    with pytest.raises(ValueError, match="same number of tasks"):
        loop.batch_task_loss(xs, ys, xq[:2], yq[:2])
