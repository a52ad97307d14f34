"""RL² (``meta.rl``): trials keep their task and variation, the GRU's state is carried within a trial and
zeroed between trials (world by world), the update replays what collection saw, and a run resumes exactly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from envs.suite import EnvConfig
from meta_rl_checks import assert_reports_pre_and_post_adaptation, assert_resumes_exactly
from meta.rl.ppo import generalized_advantages
from meta.rl.recurrent_memory import RecurrentMemory
from meta.rl.recurrent_policy import INPUT_DIM, RecurrentActorCritic
from meta.rl.rl2 import RL2, RL2Config
from meta.rl.trials import TrialSchedule

TINY = RL2Config(hidden_size=32, episodes_per_trial=3, episode_steps=20, meta_batch=4, epochs=2, minibatches=2, bptt_steps=20)
REACH = EnvConfig(benchmark="ML1", task="reach", eval_episodes_per_task=2, eval_max_steps=20)


def test_a_trial_keeps_its_task_and_variation_until_its_last_episode_world_by_world():
    schedule = TrialSchedule(("reach", "push", "sweep"), 50, num_worlds=3, episodes_per_trial=2, rng=np.random.default_rng(0))
    first = schedule.first_reset()
    # world 0 ends episodes at every call, world 1 at every other one, world 2 never
    done_pattern = [[True, True, False], [True, False, False], [True, True, False]]
    options = [schedule(np.array(done)) for done in done_pattern]
    # world 0 ended its first trial at call 1 and runs its second; world 1 ended its first at call 2
    assert schedule.new_trial.tolist() == [False, True, False] and schedule.episodes_done.tolist() == [1, 0, 0]
    for world in (0, 1):  # a trial's second episode runs the task and variation of its first
        assert (options[0]["task"][world], options[0]["variation"][world]) == (first["task"][world], first["variation"][world])
    assert (options[2]["task"][0], options[2]["variation"][0]) == (options[1]["task"][0], options[1]["variation"][0])
    assert options[0]["task"][2] is None and options[1]["task"][1] is None  # a world still running keeps its episode
    assert all(option["variation"][2] is None for option in options)


def test_memory_zeroes_only_the_worlds_that_begin_a_trial():
    torch.manual_seed(0)
    net = RecurrentActorCritic(hidden_size=16)
    memory, fresh = RecurrentMemory(net, 3, "cpu"), RecurrentMemory(net, 3, "cpu")
    obs = torch.randn(3, 39)
    with torch.no_grad():
        for _ in range(4):
            memory.advance(obs)
            memory.observe(torch.rand(3, 4), torch.rand(3) * 10, torch.zeros(3))
        before = memory.state.clone()
        memory.begin_trials(torch.tensor([False, True, False]))
        assert torch.equal(memory.state[1], torch.zeros(16)) and torch.equal(memory.state[[0, 2]], before[[0, 2]])
        assert float(memory.prev_reward[1]) == 0.0 and float(memory.prev_reward[0]) != 0.0
        _, mean, _ = memory.advance(obs)
        _, fresh_mean, _ = fresh.advance(obs)
    assert torch.allclose(mean[1], fresh_mean[1])  # world 1 acts as at the start of a trial...
    assert not torch.allclose(mean[0], fresh_mean[0])  # ...the others remember theirs


@pytest.fixture(scope="module")
def learner():
    torch.set_num_threads(1)
    rl2 = RL2(TINY, env=REACH, device="cpu", seed=0)
    yield rl2
    rl2.close()


def test_collection_carries_the_state_across_episodes_and_zeroes_it_between_trials(learner):
    rollout = learner._collect()
    n, length = TINY.meta_batch, TINY.episodes_per_trial * TINY.episode_steps
    assert rollout["inputs"].shape == (n, length, INPUT_DIM)
    # bptt chunks are episodes: the first starts a trial (zero state), the later ones carry the trial's state
    starts = rollout["starts"]
    assert starts.shape == (n, TINY.episodes_per_trial, TINY.hidden_size)
    assert torch.all(starts[:, 0] == 0) and torch.all(starts[:, 1:].abs().sum(-1) > 0)
    # the first step of a later episode reads the done flag and the reward of the episode before
    second = TINY.episode_steps
    assert torch.all(rollout["inputs"][:, second, -1] == 1) and torch.all(rollout["inputs"][:, second + 1, -1] == 0)
    assert torch.allclose(rollout["inputs"][:, second, -2], rollout["rewards"][:, second - 1] / 10)
    assert torch.all(rollout["ends"][:, -1]) and not torch.any(rollout["ends"][:, :-1])
    # the next iteration's trials start from zeroed memory
    assert torch.all(learner.memory.state == 0) and np.all(learner.schedule.episodes_done == 0)
    # the update replays each chunk from its saved start: the same values collection computed
    chunk = TINY.episode_steps
    with torch.no_grad():
        _, values, _ = learner.net.unroll(rollout["inputs"][:, chunk : 2 * chunk], starts[:, 1])
    assert torch.allclose(values, rollout["values"][:, chunk : 2 * chunk], atol=1e-5)


def test_advantages_bootstrap_across_episodes_of_a_trial_but_not_across_its_end():
    rewards, values = torch.ones(1, 4), torch.zeros(1, 4)
    ends = torch.tensor([[False, True, False, False]])
    advantages = generalized_advantages(rewards, values, ends, torch.tensor([5.0]), gamma=0.5, lam=1.0)
    assert advantages.tolist() == [[1.5, 1.0, 1.5 + 0.25 * 5.0, 1.0 + 0.5 * 5.0]]


def test_with_a_linear_baseline_only_the_policy_gradient_trains_the_gru():
    torch.set_num_threads(1)
    rl2 = RL2(dataclasses.replace(TINY, baseline="linear"), env=REACH, device="cpu", seed=0)
    try:
        before = {name: value.clone() for name, value in rl2.net.state_dict().items()}
        rollout = rl2._collect()
        values = rl2._linear_baseline(rollout, rollout["rewards"] * TINY.reward_scale)
        assert values.shape == rollout["rewards"].shape and torch.isfinite(values).all()
        assert not torch.equal(values, rollout["values"])  # the fit, not the value head, measures the advantages
        metrics = rl2._update(rollout)
        after = rl2.net.state_dict()
        assert "losses/value" not in metrics and "losses/policy" in metrics
        assert all(torch.equal(before[name], after[name]) for name in ("value.weight", "value.bias"))
        assert not torch.equal(before["gru.weight_hh_l0"], after["gru.weight_hh_l0"])
    finally:
        rl2.close()
    with pytest.raises(ValueError, match="baseline must be 'shared' or 'linear'"):
        RL2(dataclasses.replace(TINY, baseline="mlp"), env=REACH, device="cpu", seed=0)


def test_a_resumed_learner_continues_exactly(learner):
    assert_resumes_exactly(lambda: RL2(TINY, env=REACH, device="cpu", seed=3), lambda rl2: [rl2.net])


def test_evaluation_reports_pre_and_post_adaptation_per_test_task(learner):
    assert_reports_pre_and_post_adaptation(learner)
    assert learner.evaluate().rows["reach"]["post_return"] > 0


def test_an_mt_benchmark_is_refused_naming_the_ml_ones():
    with pytest.raises(ValueError, match="ML benchmark.*ML1.*ML10.*not MT10"):
        RL2(TINY, env=EnvConfig(benchmark="MT10"), device="cpu", seed=0)


def test_rl2_trains_evaluates_and_refuses_misuse_through_the_cli(tmp_path):
    from test_user_path import launch, ok, one_line_error

    tiny = ["--algorithm.hidden-size", "16", "--algorithm.episodes-per-trial", "2", "--algorithm.episode-steps", "10",
            "--algorithm.meta-batch", "2", "--algorithm.epochs", "1", "--algorithm.minibatches", "1", "--env.eval-episodes-per-task", "1",
            "--run.no-progress-bar", "--run.runs-dir", tmp_path]
    trained = ok(launch("train", "rl2-ppo", "--run.budget", "80", "--run.deterministic", *tiny))
    assert "pre_success" in trained.stdout and "post_success" in trained.stdout
    run = tmp_path / "rl2-ppo-s1"
    header, *rows = (run / "curves.csv").read_text().splitlines()
    assert header == "progress,task,pre_success,post_success,pre_return,post_return" and [row.split(",")[:2] for row in rows] == [["80", "reach"], ["80", "mean"]]
    evaluated = ok(launch("eval", run))
    assert evaluated.stdout.splitlines()[-2:] == trained.stdout.splitlines()[-3:-1]  # the same table, row for row
    # a run stopped after its first checkpoint (as SIGKILL leaves it) and resumed ends as the uninterrupted one
    ok(launch("train", "rl2-ppo", "--run.budget", "40", "--run.deterministic", "--run.name", "stopped", *tiny))
    ok(launch("resume", tmp_path / "stopped", "--run.budget", "80"))
    assert (tmp_path / "stopped" / "report.json").read_text().replace("stopped", "") == (run / "report.json").read_text().replace("rl2-ppo-s1", "")
    one_line_error(launch("train", "rl2-ppo", "--env.benchmark", "MT10", *tiny), "give it an ML benchmark")
    one_line_error(launch("train", "mtsac", "--env.benchmark", "ML10", *tiny[-3:]), "use an MT benchmark")
    one_line_error(launch("train", "mtsac", "--run.resume", "auto", "--run.name", "rl2-ppo-s1", *tiny[-3:]), "started from 'rl2-ppo'")


def test_the_evaluation_agent_shows_the_gru_only_trials_as_long_as_training_ones(learner):
    """Pre-adaptation episodes start a trial; every evaluation episode after adapt() starts from the state that the
    last E - 1 adaptation episodes leave, so it is the E-th episode of a trial, as in training."""
    from envs.adaptation import Timestep

    agent, e = learner.agent(), TINY.episodes_per_trial
    obs, rng = np.random.default_rng(0).normal(size=(2, 39)), np.random.default_rng(1)

    def episode(act, steps=3):
        for t in range(steps):
            action = act(obs)[0] if act == agent.adapt_action else act(obs)
            agent.step(Timestep(obs, action, rng.uniform(0, 10, 2), np.zeros(2, bool), np.full(2, t == steps - 1), {}))

    agent.init()
    for _ in range(5):
        episode(agent.adapt_action)
    assert len(agent.episodes) == 5
    agent.adapt()
    # the adapted state is the replay of the last E - 1 episodes from a zero state
    window = torch.cat(agent.episodes[-(e - 1):], dim=1).clone()
    window[:, 0, 39:] = 0
    with torch.no_grad():
        _, _, expected = learner.net.unroll(window, torch.zeros(2, TINY.hidden_size))
    assert torch.allclose(agent.memory.state, expected)
    episode(agent.eval_action)
    assert not torch.allclose(agent.memory.state, expected)
    agent.reset(np.array([True, False]))
    assert torch.allclose(agent.memory.state[0], expected[0]) and not torch.allclose(agent.memory.state[1], expected[1])


def test_a_meta_batch_smaller_than_the_train_tasks_is_refused():
    with pytest.raises(ValueError, match="meta_batch must be at least the 10 train tasks of ML10"):
        RL2(TINY, env=EnvConfig(benchmark="ML10"), device="cpu", seed=0)
