"""stable-baselines3 on polytask: every env passes SB3's checker and trains
with SB3 as is; ``SB3Learner`` speaks the loop's protocol and resumes exactly."""

import dataclasses
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

from envs import TASKS, env_id

pytest.importorskip("stable_baselines3", reason="the SB3 bridge needs stable-baselines3")
from stable_baselines3 import SAC  # noqa: E402
from stable_baselines3.common.env_checker import check_env  # noqa: E402

from agents.sb3 import SB3Config, SB3Learner, SB3PPOConfig, check_config  # noqa: E402
from envs.suite import EnvConfig  # noqa: E402

CPU = torch.device("cpu")
TINY = SB3Config(steps_per_call=300, learning_starts=200, buffer_size=2_000, batch_size=64, net_arch=(32, 32))
TINY_ENV = EnvConfig(benchmark="MT1", task="reach", eval_episodes_per_task=2, eval_max_steps=40)


def learner_of(config: SB3Config = TINY, seed: int = 0, **env) -> SB3Learner:
    return SB3Learner(config, env=dataclasses.replace(TINY_ENV, **env), device=CPU, seed=seed)


@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_passes_sb3_env_checker_without_warnings(task):
    env = TASKS[task]()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            check_env(env)
    finally:
        env.close()


def test_sb3_sac_trains_on_a_registered_env_as_is():
    env = gym.make(env_id("reach"))
    model = SAC("MlpPolicy", env, learning_starts=100, buffer_size=1_000, batch_size=32,
                policy_kwargs={"net_arch": [32, 32]}, seed=0, device="cpu")
    before = [p.detach().clone() for p in model.actor.parameters()]
    model.learn(300)
    assert model.num_timesteps == 300 and model.replay_buffer.pos == 300
    assert model.logger.name_to_value["train/n_updates"] == 200
    assert any(not torch.equal(a, b) for a, b in zip(before, model.actor.parameters()))
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert action.shape == (4,) and env.action_space.contains(action)


def _snapshot_rng():
    return np.random.get_state(), torch.get_rng_state()


def _restore_rng(state):
    np.random.set_state(state[0])
    torch.set_rng_state(state[1])


def _parameters(learner):
    return [p.detach().clone() for model in learner.models for p in model.policy.parameters()]


def test_learner_steps_reports_and_evaluates_like_our_agents():
    learner = learner_of()
    assert learner.unit == "env_steps" and learner.default_budget == TINY.steps_per_task
    metrics = {}
    for expected in (300, 600):
        metrics = learner.step()
        assert learner.progress() == expected
    assert all(key.startswith(("charts/", "losses/")) for key in metrics)
    assert {"losses/actor_loss", "losses/critic_loss", "charts/episode_return", "charts/episode_success"} <= set(metrics)
    assert metrics["charts/episode_success"] in (0.0, 1.0)
    report = learner.evaluate()
    assert list(report.rows) == ["reach"] and set(report.rows["reach"]) == {"success_rate", "episode_return"}
    actions = learner.policy()(np.zeros((3, 39)), np.zeros(3, dtype=int))
    assert actions.shape == (3, 4) and np.all(np.abs(actions) <= 1)


def test_sac_resumes_exactly_mid_episode_with_its_replay_buffer():
    learner = learner_of()
    learner.step()  # 300 steps: an episode is in flight
    state, rng = learner.state_dict(), _snapshot_rng()
    expected_metrics, expected = learner.step(), _parameters(learner)

    resumed = learner_of(seed=7)
    resumed.load_state_dict(state)
    assert resumed.progress() == 300 and resumed.models[0].replay_buffer.pos == 300
    _restore_rng(rng)
    metrics = resumed.step()
    assert all(torch.equal(a, b) for a, b in zip(expected, _parameters(resumed)))
    timing_free = lambda m: {k: v for k, v in m.items() if k != "charts/sb3_fps"}  # noqa: E731
    assert timing_free(metrics) == timing_free(expected_metrics)


def test_ppo_learner_steps_by_rollouts_and_round_trips_its_state():
    config = dataclasses.replace(SB3PPOConfig(), n_steps=100, steps_per_call=200, batch_size=50, n_epochs=1, net_arch=(32, 32))
    learner = learner_of(config, eval_episodes_per_task=1, eval_max_steps=20)
    metrics = learner.step()
    assert learner.progress() == 200
    assert {"losses/value_loss", "losses/policy_gradient_loss", "losses/entropy_loss"} <= set(metrics)
    state, rng = learner.state_dict(), _snapshot_rng()
    assert state["replay_buffers"] == []
    learner.step()
    resumed = learner_of(config, seed=1, eval_episodes_per_task=1, eval_max_steps=20)
    resumed.load_state_dict(state)
    _restore_rng(rng)
    resumed.step()
    assert resumed.progress() == 400
    assert all(torch.equal(a, b) for a, b in zip(_parameters(learner), _parameters(resumed)))


def test_one_model_per_task_and_the_policy_routes_rows_by_task_id():
    config = dataclasses.replace(TINY, steps_per_call=20, learning_starts=1_000)
    learner = learner_of(config, benchmark="MT10", task=None)
    assert len(learner.models) == 10 and learner.default_budget == 10 * config.steps_per_task
    learner.step()
    assert learner.progress() == 200
    obs = np.random.default_rng(0).uniform(-0.2, 0.2, (10, 39))
    actions = learner.policy()(obs, np.arange(10)[::-1])
    for row, task_id in enumerate(np.arange(10)[::-1]):
        np.testing.assert_allclose(actions[row], learner.models[task_id].predict(obs[row], deterministic=True)[0])


def test_bad_configs_say_what_is_accepted():
    with pytest.raises(ValueError, match="steps_per_call must be a multiple of it"):
        check_config(SB3PPOConfig(n_steps=300, steps_per_call=1_000))
    with pytest.raises(ValueError, match="ent_coef must be a number, 'auto'"):
        check_config(SB3Config(ent_coef="lots"))
    with pytest.raises(ValueError, match="net_arch must be"):
        check_config(SB3Config(net_arch=()))
    with pytest.raises(ValueError, match="Did you mean 'reach'"):
        learner_of(SB3Config(), task="rech")
    with pytest.raises(ValueError, match="test tasks differ from its train tasks"):
        learner_of(SB3Config(), benchmark="ML10", task=None)


def test_metaworld_suite_trains_evaluates_and_resumes():
    pytest.importorskip("metaworld", reason="Meta-World is optional: pip install 'polytask[metaworld]'")
    config = dataclasses.replace(TINY, steps_per_call=200, learning_starts=100)
    metaworld_env = dict(suite="metaworld", eval_episodes_per_task=1, eval_max_steps=500)
    learner = learner_of(config, **metaworld_env)
    assert learner.tasks == ("reach-v3",)
    learner.step()
    state = learner.state_dict()
    resumed = learner_of(config, **metaworld_env)
    resumed.load_state_dict(state)
    assert resumed.progress() == 200 and resumed.models[0].replay_buffer.pos == 200
    resumed.step()  # the interrupted episode restarts (Meta-World saves no physics) and training goes on
    assert resumed.progress() == 400
    report = resumed.evaluate()
    assert list(report.rows) == ["reach-v3"] and 0.0 <= report.rows["reach-v3"]["success_rate"] <= 1.0


@pytest.mark.slow
def test_sb3_sac_learns_reach():
    """The measured budget (agents.sb3.REACH_SAC): SAC reaches >= 0.9 test success on reach."""
    from agents.sb3 import REACH_SAC, REACH_SAC_ENV, REACH_SAC_STEPS

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 64-unit net is fastest on one thread; more only contend
    try:
        learner = SB3Learner(REACH_SAC, env=REACH_SAC_ENV, device=CPU, seed=0)
        while learner.progress() < REACH_SAC_STEPS:
            learner.step()
        assert learner.evaluate().rows["reach"]["success_rate"] >= 0.9
    finally:
        torch.set_num_threads(threads)
