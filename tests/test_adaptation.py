"""The adapt-then-evaluate protocol (``envs.adaptation``): its episode counts, that it covers every
test variation once, and that it tells an agent that adapts from one that does not."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from envs.adaptation import AdaptationEvaluator, trial_rounds
from envs.layout import HAND
from envs.suite import EnvConfig, make_suite
from envs.tasks._common import OPEN, move
from envs.tasks.reach import Reach

STEPS = 60  # short episodes keep the protocol's 16 episodes per trial cheap


class CountingAgent:
    """Acts at random and records what the protocol asks of it."""

    def __init__(self):
        self.calls, self.adaptation_episodes = [], None
        self.rng = np.random.default_rng(0)

    def init(self):
        self.calls.append("init")
        self.adaptation_episodes = None

    def adapt_action(self, obs):
        self.calls.append("adapt_action")
        return self.rng.uniform(-1, 1, (len(obs), 4)), {"tag": np.arange(len(obs))}

    def step(self, timestep):
        assert timestep.observation.shape[1] == 39
        if self.calls[-1] == "eval_action":
            assert timestep.aux_policy_outputs == {}
            return
        assert set(timestep.aux_policy_outputs) == {"tag"}
        ended = timestep.terminated | timestep.truncated
        self.adaptation_episodes = ended.astype(int) if self.adaptation_episodes is None else self.adaptation_episodes + ended

    def adapt(self):
        self.calls.append(("adapt", tuple(self.adaptation_episodes)))

    def eval_action(self, obs):
        self.calls.append("eval_action")
        return np.zeros((len(obs), 4))

    def reset(self, mask):
        self.calls.append(("reset", int(np.sum(mask))))


class RecordingWorlds:
    """The suite's vector env, recording the (task, variation) each world is reset to."""

    def __init__(self, suite, split):
        self.suite, self.split, self.trials, self.steps = suite, split, [], 0

    def __call__(self, n):
        vec = self.suite.make_vec(self.split, num_worlds=n)
        reset, step = vec.reset, vec.step

        def recording_reset(*, seed=None, options=None):
            if options and "reset_mask" not in options:
                self.trials.append(list(zip(options["task"], options["variation"])))
            return reset(seed=seed, options=options)

        def counting_step(actions):
            self.steps += 1
            return step(actions)

        vec.reset, vec.step = recording_reset, counting_step
        return vec


def collapse(calls):
    """Runs of the same call as (call, count)."""
    return [(call, len(list(group))) for call, group in itertools.groupby(calls)]


def test_trial_rounds_cover_every_variation_of_every_task_once():
    rounds = trial_rounds(num_tasks=3, variations_per_task=5, worlds=4)
    flat = [trial for round_ in rounds for trial in round_]
    assert sorted(flat) == [(t, k) for t in range(3) for k in range(5)]
    assert [len(r) for r in rounds] == [4, 4, 4, 3]


def test_each_round_runs_three_pre_ten_adaptation_and_three_post_episodes_on_every_test_variation():
    suite = make_suite(EnvConfig(benchmark="ML10", eval_max_steps=2))
    worlds = RecordingWorlds(suite, "test")
    evaluator = AdaptationEvaluator(worlds, suite.tasks("test"), title="ML10", max_steps=2, worlds_per_round=7)
    agent = CountingAgent()
    report = evaluator(agent, variations_per_task=3)
    # 15 trials in rounds of 7: three rounds, the last padded to 7 worlds
    assert len(worlds.trials) == 3
    recorded = [trial for round_ in worlds.trials for trial in round_]
    assert sorted(set(recorded)) == sorted((task, k) for task in suite.tasks("test") for k in range(3))
    assert len(recorded) == 21 and len(set(recorded[:15])) == 15
    # per round: (init, 2 steps, reset) x 3 pre episodes; init; 10 x 2 adapting steps; adapt; 3 x 2 post steps
    pre = [("init", 1), ("eval_action", 2), (("reset", 7), 1)] * 3
    post = [("eval_action", 2), (("reset", 7), 1), ("eval_action", 2), (("reset", 7), 1), ("eval_action", 2)]
    one_round = [*pre, ("init", 1), ("adapt_action", 20), (("adapt", (10,) * 7), 1), *post]
    assert collapse(agent.calls) == one_round * 3
    assert worlds.steps == 3 * 2 * (3 + 10 + 3)
    assert set(report.rows) == set(suite.tasks("test"))
    assert report.metrics == ["pre_success", "post_success", "pre_return", "post_return"]


class GoalSeeker:
    """Reach with the goal hidden: while adapting, sweep the goal's box and keep the point of highest
    reward (the reward falls with the distance to the goal); afterwards go there. Unadapted, it goes to
    the box's centre. With ``learns=False`` it never adapts."""

    # a 5 cm grid of reach's goal box: every goal lies within 4.4 cm of a grid point (success: 5 cm)
    GRID = np.array(list(itertools.product(*(np.linspace(lo, hi, n) for lo, hi, n in zip(Reach.GOAL_LOW, Reach.GOAL_HIGH, (5, 3, 6))))))

    def __init__(self, learns=True):
        self.learns = learns
        self.best = self.target = None

    def init(self):
        self.best, self.target, self.pending, self.t = None, None, None, 0

    def adapt_action(self, obs):
        if self.best is None:
            self.best = [(-np.inf, None)] * len(obs)
        if self.pending is not None:  # the last step's reward, earned where the hand now is
            rewards, continuing = self.pending
            self.best = [max(b, (r, h.copy()), key=lambda x: x[0]) if c else b
                         for b, r, h, c in zip(self.best, rewards, obs[:, HAND], continuing)]
        point = self.GRID[min(self.t // 4, len(self.GRID) - 1)]  # 4 steps per grid point: 90 points in 6 episodes
        self.t += 1
        return np.stack([move(o[HAND], point, OPEN) for o in obs]), {}

    def step(self, timestep):
        if self.best is None:
            return  # an evaluation episode before any adaptation
        self.pending = (timestep.reward, ~(timestep.terminated | timestep.truncated))

    def adapt(self):
        if self.learns:
            self.target = np.stack([hand for _, hand in self.best])

    def eval_action(self, obs):
        goals = np.tile((Reach.GOAL_LOW + Reach.GOAL_HIGH) / 2, (len(obs), 1)) if self.target is None else self.target
        return np.stack([move(o[HAND], g, OPEN) for o, g in zip(obs, goals)])

    def reset(self, mask):
        pass


@pytest.fixture(scope="module")
def ml1_reach():
    suite = make_suite(EnvConfig(benchmark="ML1", task="reach", eval_max_steps=STEPS))
    assert not suite.goal_observable  # the goal is hidden: it must be found from rewards
    evaluate = suite.adaptation_evaluator("test")
    yield evaluate
    evaluate.close()


def test_the_protocol_tells_an_agent_that_adapts_from_one_that_does_not(ml1_reach):
    adapted = ml1_reach(GoalSeeker(), variations_per_task=8).rows["reach"]
    assert adapted["post_success"] >= 0.75 and adapted["post_success"] > adapted["pre_success"] + 0.4, adapted
    assert adapted["post_return"] > adapted["pre_return"]
    ignores = ml1_reach(GoalSeeker(learns=False), variations_per_task=8).rows["reach"]
    assert ignores["post_success"] == ignores["pre_success"] and ignores["post_return"] == pytest.approx(ignores["pre_return"])
    assert ignores["pre_success"] == adapted["pre_success"]  # the same variations, the same unadapted behaviour


def test_more_trials_per_task_than_a_split_has_variations_is_refused_before_anything_runs(ml1_reach):
    with pytest.raises(ValueError, match="more trials per task than the 50 test variations"):
        make_suite(EnvConfig(benchmark="ML1", task="reach", eval_episodes_per_task=51)).adaptation_evaluator("test")
    with pytest.raises(ValueError, match="use 1-50"):  # an override at evaluation time (`launch eval --episodes`)
        ml1_reach(GoalSeeker(), variations_per_task=51)


def test_the_protocol_runs_on_metaworlds_ml_benchmarks_through_the_bridge():
    pytest.importorskip("metaworld", reason="Meta-World is an optional extra: pip install polytask[metaworld]")
    suite = make_suite(EnvConfig(suite="metaworld", benchmark="ML10"))
    worlds = RecordingWorlds(suite, "test")
    evaluator = AdaptationEvaluator(worlds, suite.tasks("test"), title="Meta-World ML10", max_steps=2)
    agent = CountingAgent()
    report = evaluator(agent, variations_per_task=2)
    assert worlds.trials == [[(task, k) for k in range(2) for task in suite.tasks("test")]]
    assert agent.calls.count("init") == 4 and (("adapt", (10,) * 10)) in agent.calls
    assert list(report.rows) == list(suite.tasks("test")) == ["drawer-open-v3", "door-close-v3", "shelf-place-v3", "sweep-into-v3", "lever-pull-v3"]


def test_rl2_meta_trains_on_metaworld_ml1_and_its_trials_keep_their_goal():
    pytest.importorskip("metaworld", reason="Meta-World is an optional extra: pip install polytask[metaworld]")
    from meta.rl.rl2 import RL2, RL2Config

    rl2 = RL2(RL2Config(hidden_size=16, episodes_per_trial=2, episode_steps=5, meta_batch=3, epochs=1, minibatches=1),
              env=EnvConfig(suite="metaworld", benchmark="ML1", task="reach", eval_episodes_per_task=1), device="cpu", seed=0)
    goals = [world._target_pos.copy() for world in rl2.collector.env.worlds]
    for _ in range(5):  # the first episode ends at step 5: the trial's second keeps each world's goal
        rl2.collector.step(np.zeros((3, 4)))
    assert all(np.array_equal(world._target_pos, goal) for world, goal in zip(rl2.collector.env.worlds, goals))
    for _ in range(5):  # the rest of the trial, so that the learner's iterations start with trials
        rl2.collector.step(np.zeros((3, 4)))
    rl2.memory.begin_trials(torch.ones(3, dtype=torch.bool))
    metrics = rl2.step()
    assert metrics["charts/episode_length"] == 5 and np.isfinite(metrics["losses/value"])
    rl2.close()
