"""The suite interface on polytask's side: vector envs and evaluators built from
an env config, the batched evaluator against the single-env one, and options a
suite cannot honour refused with what it accepts."""

import dataclasses

import numpy as np
import pytest

import envs
from envs.batched import BatchedVectorEnv
from envs.evaluation import BatchedEvaluator, evaluate_success
from envs.suite import EnvConfig, make_suite
from envs.vector import BenchmarkVectorEnv


def experts_with_noise(task_names, seed=0):
    """Scripted experts whose actions are perturbed by each observation's own digits, so that
    some episodes fail; a pure function of each row, as a learner's deterministic policy is."""
    experts = [envs.scripted_policy(t) for t in task_names]

    def policy(obs, task_ids):
        actions = np.stack([experts[t](o) for o, t in zip(obs, task_ids)])
        wobble = np.sin(1e4 * obs[:, :4] + seed)
        return np.clip(actions + 0.9 * wobble, -1, 1)

    return policy


@pytest.mark.parametrize("benchmark, split", [("MT10", "test"), ("ML10", "test"), ("ML10", "train")])
def test_batched_evaluator_gives_the_single_env_table(benchmark, split):
    bench = envs.get_benchmark(benchmark)
    policy = experts_with_noise(bench.tasks(split))
    single = evaluate_success(policy, bench, split, episodes_per_task=3, max_steps=120)
    evaluator = BatchedEvaluator(bench, split, max_steps=120)
    batched = evaluator(policy, 3)
    assert list(batched.rows) == list(single.rows) and batched.title == single.title
    for task, row in single.rows.items():
        assert batched.rows[task]["success_rate"] == row["success_rate"], task
        # a reward computed on a stacked batch may round its last bit differently (tests/test_batched.py)
        assert batched.rows[task]["episode_return"] == pytest.approx(row["episode_return"], rel=0, abs=1e-9), task
    assert 0 < batched.mean("success_rate") < 1, "the table tells successes from failures"
    assert evaluator(policy, 3).rows == batched.rows, "a second evaluation reuses the worlds and gives the same table"


def test_evaluation_reuses_its_worlds_and_builds_no_model_per_episode(monkeypatch):
    built = []
    original = envs.PolytaskEnv.__init__
    monkeypatch.setattr(envs.PolytaskEnv, "__init__", lambda self, *a, **k: (built.append(self.name), original(self, *a, **k))[1])
    evaluate = make_suite(EnvConfig(benchmark="MT10", eval_episodes_per_task=2, eval_max_steps=5)).evaluator()
    still = lambda obs, task_ids: np.zeros((len(obs), 4))  # noqa: E731
    evaluate(still)
    assert len(built) == 20
    evaluate(still)
    evaluate(still)
    assert len(built) == 20, "later evaluations reset the same worlds"


def test_suite_builds_the_batched_simulator_by_default_and_sync_envs_on_request():
    config = EnvConfig(benchmark="MT10", worlds_per_task=2)
    vec = make_suite(config).make_vec()
    assert isinstance(vec, BatchedVectorEnv) and vec.num_envs == 20
    plain = make_suite(dataclasses.replace(config, batched=False)).make_vec()
    assert isinstance(plain, BenchmarkVectorEnv) and plain.num_envs == 20
    only = make_suite(config).make_vec(tasks=("push", "reach"))
    obs, info = only.reset(seed=0)
    assert only.tasks_now == ["push", "reach", "push", "reach"] and list(info["task_id"]) == [0, 1, 0, 1]
    with pytest.raises(ValueError, match="Did you mean 'push'"):
        make_suite(config).make_vec(tasks=("psuh",))


def test_ml_benchmarks_hide_the_goal_unless_told_otherwise():
    hidden = make_suite(EnvConfig(benchmark="ML10")).make_vec()
    obs, _ = hidden.reset(seed=0)
    assert not obs[:, 36:39].any()
    shown = make_suite(EnvConfig(benchmark="ML10", goal_observable=True)).make_vec()
    assert shown.reset(seed=0)[0][:, 36:39].any()
    assert make_suite(EnvConfig(benchmark="MT10")).make_vec().reset(seed=0)[0][:, 36:39].any()


def test_options_the_suite_cannot_honour_are_refused():
    with pytest.raises(ValueError, match="cannot honour env.physics_threads=2: .*batched=False"):
        make_suite(EnvConfig(batched=False, physics_threads=2))
    with pytest.raises(ValueError, match="MT10 takes no task"):
        make_suite(EnvConfig(benchmark="MT10", task="reach"))
    with pytest.raises(ValueError, match="worlds_per_task"):
        EnvConfig(worlds_per_task=0)
    with pytest.raises(ValueError, match="eval_max_steps"):
        EnvConfig(eval_max_steps=501)


def test_no_learner_config_names_its_environments():
    """Which environments a learner runs on is the env config's business alone."""
    from agents.mtsac import MTSACConfig
    from agents.sb3 import SB3Config

    env_fields = {"suite", "benchmark", "task", "worlds_per_task", "eval_split", "eval_episodes_per_task", "eval_max_steps"}
    for config in (MTSACConfig, SB3Config):
        assert not env_fields & {f.name for f in dataclasses.fields(config)}, config.__name__
