"""MAML-TRPO (``meta.rl.maml``, ``meta.rl.trpo``, ``meta.rl.maml_trpo``): the meta-gradient through the inner step,
the first-order switch, TRPO's trust region, the baseline, flat memory, and the learner end to end."""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pytest
import torch

from envs.suite import EnvConfig
from meta_rl_checks import (assert_cli_trains_evaluates_resumes_and_refuses_misuse, assert_reports_pre_and_post_adaptation,
                            assert_resumes_exactly)
from meta.rl import baseline
from meta.rl.gaussian_policy import GaussianPolicy, kl_divergence, log_likelihood
from meta.rl.maml import Rollouts, adapt, advantages, make_inner_loop, outer_objectives
from meta.rl.maml_trpo import MAMLTRPO, MAMLTRPOConfig
from meta.rl.trials import TrialSchedule
from meta.rl.trpo import conjugate_gradient, trpo_step

TINY = MAMLTRPOConfig(hidden_sizes=(16,), meta_batch=2, rollouts_per_task=3, episode_steps=20, cg_iterations=5)
REACH = EnvConfig(benchmark="ML1", task="reach", eval_episodes_per_task=2, eval_max_steps=20)


def tiny_problem(seed: int = 0, tasks: int = 2, dtype=torch.float64):
    """A two-unit policy and random pre- and post-adaptation rollouts of ``tasks`` tasks (2 episodes of 3 steps)."""
    torch.manual_seed(seed)
    policy = GaussianPolicy((2,), init_log_std=-0.3).to(dtype)
    for p in policy.parameters():  # away from the near-zero output init, so that every term of the gradient is non-trivial
        p.data.normal_(0.0, 0.5)
    inner = make_inner_loop(policy, inner_lr=0.5, inner_steps=1)
    g = torch.Generator().manual_seed(seed + 1)

    def rollouts():
        return Rollouts(torch.randn(tasks, 2, 3, 39, generator=g, dtype=dtype), torch.randn(tasks, 2, 3, 4, generator=g, dtype=dtype),
                        torch.rand(tasks, 2, 3, generator=g, dtype=dtype))

    pre, post = rollouts(), rollouts()
    return policy, inner, pre, advantages(pre, 0.9, 1.0), post, advantages(post, 0.9, 1.0)


def flat_grad(loss, params):
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)])


def test_the_meta_gradient_through_the_inner_step_matches_finite_differences():
    policy, inner, pre, pre_adv, post, post_adv = tiny_problem()
    params = list(policy.parameters())
    objectives = outer_objectives(inner, pre, pre_adv, post, post_adv)
    analytic = flat_grad(objectives()[0], params)
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    numeric, eps = torch.zeros_like(flat), 1e-6

    def at(x):
        with torch.no_grad():
            offset = 0
            for p in params:
                p.copy_(x[offset : offset + p.numel()].view_as(p))
                offset += p.numel()
            return float(objectives()[0])

    for i in range(len(flat)):
        step = torch.zeros_like(flat)
        step[i] = eps
        numeric[i] = (at(flat + step) - at(flat - step)) / (2 * eps)
    at(flat)
    assert torch.allclose(analytic, numeric, atol=1e-7, rtol=1e-5)
    # the first-order gradient is a different thing: the check above sees the second-order path
    first_order = outer_objectives(inner, pre, pre_adv, post, post_adv, first_order=True)
    assert not torch.allclose(flat_grad(first_order()[0], params), numeric, atol=1e-5)


def test_the_first_order_switch_drops_exactly_the_second_order_term():
    """d L(theta') / d theta = (I - alpha H) g' with g' = dL/d theta' and H the inner loss's Hessian; FOMAML keeps g'."""
    policy, inner, pre, pre_adv, post, post_adv = tiny_problem(tasks=1)
    params, names = list(policy.parameters()), [n for n, _ in policy.named_parameters()]
    second = outer_objectives(inner, pre, pre_adv, post, post_adv)
    first = outer_objectives(inner, pre, pre_adv, post, post_adv, first_order=True)
    second_grad, first_grad = flat_grad(second()[0], params), flat_grad(first()[0], params)
    # g': the outer loss's gradient with respect to the adapted parameters, taken as free variables
    adapted = {n: p.detach().squeeze(0).requires_grad_() for n, p in adapt(inner, pre, pre_adv).items()}
    mean, log_std = inner.predict(adapted, post.flat(post.obs)[0])
    with torch.no_grad():
        old = log_likelihood(mean, log_std, post.flat(post.actions)[0])
    outer = -(torch.exp(log_likelihood(mean, log_std, post.flat(post.actions)[0]) - old) * post.flat(post_adv)[0]).mean()
    g_adapted = flat_grad(outer, [adapted[n] for n in names])
    assert torch.allclose(first_grad, g_adapted, atol=1e-12)
    # H g' by a double backward of the inner loss at theta
    inner_loss = inner.loss(inner.model(pre.flat(pre.obs)[0]), (pre.flat(pre.actions)[0], pre.flat(pre_adv)[0]))
    gradient = torch.cat([g.reshape(-1) for g in torch.autograd.grad(inner_loss, params, create_graph=True)])
    hessian_vector = flat_grad(gradient @ g_adapted, params)
    assert torch.allclose(second_grad - first_grad, -0.5 * hessian_vector, atol=1e-10)
    assert float((second_grad - first_grad).abs().max()) > 1e-4


def test_an_accepted_trpo_step_respects_the_kl_bound_and_improves_the_surrogate():
    policy, inner, pre, pre_adv, post, post_adv = tiny_problem(tasks=2)
    params = list(policy.parameters())
    before = [p.detach().clone() for p in params]
    objectives = outer_objectives(inner, pre, pre_adv, post, post_adv)
    result = trpo_step(params, objectives, max_kl=0.01)
    assert result.accepted and result.loss_after < result.loss_before and 0 < result.kl <= 0.01
    with torch.no_grad():
        loss, kl = objectives()
        assert float(kl) == pytest.approx(result.kl) and float(loss) == pytest.approx(result.loss_after)
    assert any(not torch.equal(a, b) for a, b in zip(before, params))


def test_a_trpo_step_that_cannot_improve_is_rejected_and_changes_nothing():
    policy, inner, pre, pre_adv, post, post_adv = tiny_problem()
    params = list(policy.parameters())
    before = [p.detach().clone() for p in params]
    objectives = outer_objectives(inner, pre, pre_adv, post, post_adv)

    def kl_as_loss():  # the loss is the KL itself: its minimum is where we stand
        _, kl = objectives()
        return kl, kl

    result = trpo_step(params, kl_as_loss, max_kl=0.01)
    assert not result.accepted and result.kl == 0.0
    assert all(torch.equal(a, b) for a, b in zip(before, params))


def test_conjugate_gradient_solves_a_symmetric_positive_definite_system():
    a = torch.tensor([[4.0, 1.0, 0.0], [1.0, 3.0, 0.5], [0.0, 0.5, 2.0]], dtype=torch.float64)
    b = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    assert torch.allclose(conjugate_gradient(lambda v: a @ v, b, iterations=3), torch.linalg.solve(a, b))


def test_memory_stays_flat_over_200_outer_iterations():
    policy, inner, pre, pre_adv, post, post_adv = tiny_problem(dtype=torch.float32)
    params = list(policy.parameters())

    def live_tensors() -> int:
        gc.collect()
        with warnings.catch_warnings():  # isinstance on torch's deprecated lazy attributes warns
            warnings.simplefilter("ignore")
            return sum(1 for obj in gc.get_objects() if isinstance(obj, torch.Tensor))

    def iterate(n: int) -> None:
        for _ in range(n):
            trpo_step(params, outer_objectives(inner, pre, pre_adv, post, post_adv), max_kl=0.01, cg_iterations=3, max_backtracks=3)

    iterate(5)
    start = live_tensors()
    iterate(195)
    assert live_tensors() == start


def test_the_linear_feature_baseline_recovers_a_linear_function_of_its_features():
    obs = torch.randn(2, 3, 5, 39, dtype=torch.float64)
    weights = torch.randn(2, 39 * 2 + 4, dtype=torch.float64)
    returns = torch.einsum("ketf,kf->ket", baseline.features(obs), weights)
    assert torch.allclose(baseline.fit_predict(obs, returns), returns, atol=1e-6)
    hidden_goal = obs.clone()
    hidden_goal[..., 36:] = 0.0  # constant features: the ridge term keeps the solve finite
    assert torch.isfinite(baseline.fit_predict(hidden_goal, returns)).all()


def test_fitted_values_fit_each_path_to_its_discounted_returns_to_go():
    obs = torch.randn(2, 1, 6, 39, dtype=torch.float64)
    rewards = torch.ones(2, 1, 6, dtype=torch.float64)
    # undiscounted returns-to-go of a reward of 1 per step are 6 - t: linear in the time feature, so fitted exactly
    expected = (6.0 - torch.arange(6, dtype=torch.float64)).expand(2, 1, 6)
    torch.testing.assert_close(baseline.fitted_values(obs, rewards, gamma=1.0), expected, atol=1e-6, rtol=0)
    halved = baseline.fitted_values(obs, rewards, gamma=0.5)  # 2 - 2^-(5 - t): no longer in the features' span
    assert halved.shape == (2, 1, 6) and torch.isfinite(halved).all() and not torch.allclose(halved, expected)


def test_gaussian_kl_is_zero_for_equal_policies_and_matches_torch():
    mean0, mean1, log0, log1 = torch.randn(4, 4), torch.randn(4, 4), torch.randn(4, 4) * 0.3, torch.randn(4, 4) * 0.3
    assert torch.allclose(kl_divergence(mean0, log0, mean0, log0), torch.zeros(4), atol=1e-6)
    expected = torch.distributions.kl_divergence(torch.distributions.Normal(mean0, log0.exp()), torch.distributions.Normal(mean1, log1.exp())).sum(-1)
    assert torch.allclose(kl_divergence(mean0, log0, mean1, log1), expected, atol=1e-5)
    actions = torch.randn(4, 4)
    assert torch.allclose(log_likelihood(mean0, log0, actions), torch.distributions.Normal(mean0, log0.exp()).log_prob(actions).sum(-1), atol=1e-5)


def test_worlds_side_by_side_share_a_trial_and_must_end_together():
    schedule = TrialSchedule(("a", "b", "c"), 50, 6, 2, np.random.default_rng(0), worlds_per_trial=3)
    assert len(set(schedule.task[:3])) == len(set(schedule.variation[:3])) == 1
    assert len(set(schedule.task[3:])) == len(set(schedule.variation[3:])) == 1
    with pytest.raises(ValueError, match="end their episodes together"):
        schedule(np.array([True, False, False, False, False, False]))
    with pytest.raises(ValueError, match="divide the 6 worlds"):
        TrialSchedule(("a",), 50, 6, 2, np.random.default_rng(0), worlds_per_trial=4)


@pytest.fixture(scope="module")
def learner():
    learner = MAMLTRPO(TINY, env=REACH, device="cpu", seed=0)
    yield learner
    learner.close()


def test_an_iteration_runs_each_pair_side_by_side_before_and_after_adaptation(learner):
    """Worlds of a pair start from the same state (same task and variation), in both phases; the next
    iteration draws new pairs."""
    starts = []
    original = learner._rollouts

    def recording(adapted):
        starts.append((learner.collector.obs.copy(), adapted is None))
        return original(adapted)

    learner._rollouts = recording
    try:
        metrics = learner.step()
        learner.step()
    finally:
        del learner._rollouts
    (pre, pre_shared), (post, post_shared), (following, _), _ = starts
    assert pre_shared and not post_shared
    r = TINY.rollouts_per_task
    for group in range(TINY.meta_batch):
        rows = slice(group * r, (group + 1) * r)
        assert (pre[rows] == pre[rows][0]).all() and (post[rows] == pre[rows][0]).all()
    assert not np.array_equal(following, pre)
    assert {"charts/pre_adaptation_success", "charts/post_adaptation_success", "charts/kl", "charts/step_accepted"} <= set(metrics)
    assert metrics["charts/kl"] <= TINY.max_kl
    assert learner.progress() == 2 * 2 * TINY.meta_batch * r * TINY.episode_steps


def test_the_agent_adapts_each_world_on_all_of_its_adaptation_episodes(learner):
    from envs.adaptation import Timestep

    agent, rng = learner.agent(), np.random.default_rng(0)
    obs = rng.normal(size=(2, 39))
    before = agent.eval_action(obs)
    mean, _ = learner.policy(torch.as_tensor(obs, dtype=torch.float32))
    assert np.allclose(before, mean.detach().clamp(-1, 1).numpy(), atol=1e-6)
    for _ in range(3):
        for t in range(4):
            action, aux = agent.adapt_action(obs)
            agent.step(Timestep(obs, action, rng.uniform(0, 10, 2), np.zeros(2, bool), np.full(2, t == 3), aux))
    agent.step(Timestep(obs, before, np.ones(2), np.zeros(2, bool), np.ones(2, bool), {}))  # evaluation steps teach nothing
    assert len(agent.episodes) == 3
    agent.adapt()
    rollouts = Rollouts(*(torch.stack(column, dim=1) for column in zip(*agent.episodes)))
    assert rollouts.obs.shape == (2, 3, 4, 39)
    expected = adapt(learner.inner, rollouts, advantages(rollouts, TINY.gamma, TINY.gae_lambda))
    after = agent.eval_action(obs)
    for world in range(2):
        mean, _ = learner.inner.predict({n: p[world] for n, p in expected.items()}, torch.as_tensor(obs[world : world + 1], dtype=torch.float32))
        assert np.allclose(after[world], mean.detach().clamp(-1, 1).numpy()[0], atol=1e-6)
    assert not np.allclose(after, before)
    agent.init()
    assert np.array_equal(agent.eval_action(obs), before)


def test_a_resumed_learner_continues_exactly():
    assert_resumes_exactly(lambda: MAMLTRPO(TINY, env=REACH, device="cpu", seed=3), lambda learner: [learner.policy])


def test_evaluation_reports_pre_and_post_adaptation_per_test_task(learner):
    assert_reports_pre_and_post_adaptation(learner)


def test_misuse_is_refused_with_what_fits():
    with pytest.raises(ValueError, match="ML benchmark.*ML1.*ML10.*not MT10"):
        MAMLTRPO(TINY, env=EnvConfig(benchmark="MT10"), device="cpu", seed=0)
    with pytest.raises(ValueError, match="at least the 10 train tasks of ML10, got 6"):
        MAMLTRPO(TINY, env=EnvConfig(benchmark="ML10"), device="cpu", seed=0)
    with pytest.raises(ValueError, match="positive meta_batch=0"):
        MAMLTRPO(MAMLTRPOConfig(meta_batch=0), env=REACH, device="cpu", seed=0)


def test_maml_trpo_trains_evaluates_resumes_and_refuses_misuse_through_the_cli(tmp_path):
    tiny = ["--algorithm.hidden-sizes", "8", "--algorithm.meta-batch", "1", "--algorithm.rollouts-per-task", "2",
            "--algorithm.episode-steps", "10", "--algorithm.cg-iterations", "2"]
    assert_cli_trains_evaluates_resumes_and_refuses_misuse(tmp_path, "maml-trpo", tiny, 80, other="rl2-ppo")
