"""MTSAC: runs on MT1 and MT10, bootstraps only through truncation, resumes exactly,
and (``-m slow``) learns reach and push."""

import copy
import dataclasses
import io
import math

import numpy as np
import pytest
import torch
from torch.func import functional_call

from agents.buffer import TransitionBatch
from agents.mtsac import MTSAC, REACH, REACH_ENV, REACH_STEPS, MTSACConfig
from agents.surgery import per_task_gradients
from envs.suite import EnvConfig
from launch.algorithm import Algorithm

torch.set_num_threads(1)
CPU = torch.device("cpu")
ENV_FIELDS = {field.name for field in dataclasses.fields(EnvConfig)}


def tiny(**overrides) -> tuple[MTSACConfig, EnvConfig]:
    """A small agent's config and env config (each override goes to whichever has the field)."""
    values = dict(benchmark="MT1", task="reach", hidden_sizes=(32, 32), per_task_batch=16, warmup_steps=50,
                  buffer_capacity_per_task=2_000, eval_episodes_per_task=2, eval_max_steps=30, compile="off")
    values.update(overrides)
    env = EnvConfig(**{k: v for k, v in values.items() if k in ENV_FIELDS})
    return MTSACConfig(**{k: v for k, v in values.items() if k not in ENV_FIELDS}), env


def make(configs: tuple[MTSACConfig, EnvConfig], seed: int) -> MTSAC:
    config, env = configs
    return MTSAC(config, env=env, device=CPU, seed=seed)


def test_runs_a_few_hundred_env_steps_on_reach_and_evaluates():
    agent = make(tiny(), seed=0)
    assert isinstance(agent, Algorithm) and agent.unit == "env_steps"
    first_params = [p.detach().clone() for p in agent.critic.parameters()]
    for _ in range(300):
        metrics = agent.step()
    assert agent.progress() == 300 and len(agent.buffer) == 300
    assert {"losses/critic", "losses/actor", "charts/temperature", "charts/entropy"} <= set(metrics)
    assert all(math.isfinite(v) for v in metrics.values())
    assert any(not torch.equal(a, b) for a, b in zip(first_params, agent.critic.parameters()))
    report = agent.evaluate()
    assert list(report.rows) == ["reach"] and set(report.metrics) == {"success_rate", "episode_return"}
    actions = agent.policy()(np.zeros((3, 39)), np.zeros(3, dtype=int))
    assert actions.shape == (3, 4) and np.all(np.abs(actions) <= 1.0)


def test_multi_task_batches_every_task_and_logs_conflicts():
    agent = make(tiny(benchmark="MT10", task=None, surgery="pcgrad", conditioning="multi_head", warmup_steps=5), seed=1)
    for _ in range(8):
        metrics = agent.step()
    assert agent.progress() == 80 and agent.buffer.size.tolist() == [8] * 10
    assert 0 <= metrics["charts/critic_conflicting_pairs"] <= 45
    assert -1.0 <= metrics["charts/actor_mean_cosine"] <= 1.0


def test_two_runs_with_one_seed_match_and_other_seeds_differ():
    def run(seed):
        agent = make(tiny(warmup_steps=10), seed=seed)
        return [agent.step() for _ in range(40)]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_actor_task_gradients_equal_separate_backward_passes():
    agent = make(tiny(benchmark="MT10", task=None, conditioning="multi_head", warmup_steps=2), seed=0)
    for _ in range(3):
        agent.step()
    batch = agent.buffer.sample(8, torch.Generator().manual_seed(0))
    noise = torch.randn(10, 8, 4, generator=torch.Generator().manual_seed(1))
    critic_params = {k: v.detach() for k, v in agent.critic.named_parameters()}

    def actor_loss(params, task_batch):
        obs, task_noise, task_id = task_batch
        action, log_prob = functional_call(agent.actor, params, (obs, task_id, task_noise))
        return (0.5 * log_prob - functional_call(agent.critic, critic_params, (obs, action, task_id)).min(-1).values).mean()

    _, grads = per_task_gradients(agent.actor, actor_loss, (batch.obs, noise, batch.task_id))
    params = {k: v.detach().clone().requires_grad_(True) for k, v in agent.actor.named_parameters()}
    for t in (0, 7):
        separate = torch.autograd.grad(actor_loss(params, (batch.obs[t], noise[t], batch.task_id[t])), list(params.values()))
        for g, expected in zip(grads, separate):
            torch.testing.assert_close(g[t], expected, atol=1e-5, rtol=1e-5)


def test_several_worlds_per_task_fill_that_task():
    agent = make(tiny(worlds_per_task=3, warmup_steps=4), seed=0)
    for _ in range(6):
        agent.step()
    assert agent.env.num_envs == 3 and agent.progress() == 18 and agent.buffer.size.tolist() == [18]


def test_td_target_bootstraps_through_truncation_not_termination():
    agent = make(tiny(), seed=0)
    shape = (1, 4)
    batch = TransitionBatch(
        obs=torch.zeros(*shape, 39), action=torch.zeros(*shape, 4), reward=torch.full(shape, 2.0),
        next_obs=torch.zeros(*shape, 39), terminated=torch.tensor([[1.0, 0.0, 0.0, 1.0]]),
        truncated=torch.tensor([[0.0, 1.0, 0.0, 1.0]]), task_id=torch.zeros(shape, dtype=torch.int64),
    )
    noise, temperature = torch.zeros(*shape, 4), torch.ones(1)
    target = agent.soft_td_target(batch, noise, temperature)
    action, log_prob = agent.actor(batch.next_obs, batch.task_id, noise)
    soft_value = agent.critic_target(batch.next_obs, action, batch.task_id).min(-1).values - log_prob
    expected_bootstrapped = 2.0 + 0.99 * soft_value
    assert torch.all(target[0, [0, 3]] == 2.0)
    torch.testing.assert_close(target[0, [1, 2]], expected_bootstrapped[0, [1, 2]].detach())


def snapshot(state: dict) -> dict:
    """What a checkpoint does to a state: serialize and read back."""
    data = io.BytesIO()
    torch.save(state, data)
    data.seek(0)
    return torch.load(data, weights_only=False)


@pytest.mark.parametrize("benchmark, task, surgery, first, then", [
    ("MT1", "reach", "pcgrad", 480, 40),  # crosses the end of the 500-step episode
    ("MT10", None, "famo", 30, 10),
])
def test_resumed_run_continues_exactly_like_an_uninterrupted_one(benchmark, task, surgery, first, then):
    config = tiny(benchmark=benchmark, task=task, surgery=surgery, warmup_steps=20)
    straight = make(config, seed=3)
    for _ in range(first):
        straight.step()
    state = snapshot(straight.state_dict())
    expected = [straight.step() for _ in range(then)]

    resumed = make(config, seed=999)  # a different seed: everything must come from the state
    resumed.load_state_dict(copy.deepcopy(state))
    assert resumed.progress() == straight.progress() - then * straight.env.num_envs
    got = [resumed.step() for _ in range(then)]
    assert got == expected
    for a, b in zip(straight.actor.parameters(), resumed.actor.parameters()):
        assert torch.equal(a, b)
    assert np.array_equal(straight.obs, resumed.obs)


def test_bad_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="MT1 needs a task"):
        MTSAC(MTSACConfig(), env=EnvConfig(benchmark="MT1"), device=CPU, seed=0)
    with pytest.raises(ValueError, match="accepted: none, pcgrad, cagrad, famo"):
        make(tiny(surgery="gradvac"), seed=0)
    with pytest.raises(ValueError, match="per_task_batch must be > 0"):
        make(tiny(per_task_batch=0), seed=0)
    with pytest.raises(ValueError, match="conditioning must be one of"):
        make(tiny(conditioning="film"), seed=0)


@pytest.mark.slow
def test_single_task_sac_learns_reach():
    """``agents.mtsac.REACH`` (stable-baselines3's reach settings) for ``REACH_STEPS`` (50k) env steps,
    seed 1, one thread. Measured with the same config and seed (``python -m launch train mt1-reach-sac --run.seed 1``, which
    evaluates every 10k env steps without touching the training state):
    test success 0.0 / 0.3 / 0.75 / 0.65 / 0.85 at 10k ... 50k (the version before the batched collector
    and variation indices: 0.35 / 0.85 / 0.95 / 0.9 / 0.95). Asserted: the best of the 30k, 40k and 50k
    evaluations reaches 0.8, as single evaluations of 20 episodes swing by 0.1-0.2 between neighbours."""
    agent = MTSAC(REACH, env=REACH_ENV, device=CPU, seed=1)
    best = 0.0
    for checkpoint in (30_000, 40_000, REACH_STEPS):
        while agent.progress() < checkpoint:
            agent.step()
        best = max(best, agent.evaluate().mean("success_rate"))
    assert best >= 0.8


@pytest.mark.slow
def test_single_task_sac_learns_push():
    """The ``mt1-push-sac`` preset, seed 1, one thread: test success reaches 0.8 within its 400k env
    steps (measured: 0.85 at 325k, 1.0 at 400k, about 19 min of training; see the preset's comment)."""
    from launch.algorithms import get_preset

    config, env, run = get_preset("mt1-push-sac").build()
    agent = MTSAC(config, env=env, device=CPU, seed=1)
    best = 0.0
    for checkpoint in range(300_000, run.budget + 1, 25_000):
        while agent.progress() < checkpoint:
            agent.step()
        best = max(best, agent.evaluate().mean("success_rate"))
    assert best >= 0.8
