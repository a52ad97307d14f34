"""The Meta-World bridge: its benchmarks behind polytask's suite interface
(one world per task, ``info["task_id"]``, EvalReport)."""

import numpy as np
import pytest

from envs.suite import EnvConfig, make_suite


def metaworld_suite(benchmark: str, seed: int = 0, **options):
    return make_suite(EnvConfig(suite="metaworld", benchmark=benchmark, **options), seed)

metaworld = pytest.importorskip("metaworld", reason="Meta-World is optional: pip install 'polytask[metaworld]'")
from metaworld.policies import ENV_POLICY_MAP  # noqa: E402


def scripted(task_names):
    """Meta-World's scripted expert of each row's task, as a batch policy."""
    experts = [ENV_POLICY_MAP[name]() for name in task_names]
    return lambda obs, task_ids: np.stack([experts[t].get_action(o) for o, t in zip(obs, task_ids)])


def test_mt10_runs_with_task_ids_and_reports_per_task_success():
    suite = metaworld_suite("MT10", seed=1)
    tasks = suite.tasks()
    assert tasks[:2] == ("reach-v3", "push-v3") and len(tasks) == 10
    env = suite.make_vec()
    try:
        assert env.num_envs == 10 and env.world_tasks == list(tasks)
        assert env.single_observation_space.shape == (39,) and env.single_action_space.shape == (4,)
        obs, info = env.reset(seed=0)
        assert obs.shape == (10, 39)
        np.testing.assert_array_equal(info["task_id"], np.arange(10))
        rng = np.random.default_rng(0)
        for _ in range(300):
            obs, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, (10, 4)))
            np.testing.assert_array_equal(info["task_id"], np.arange(10))
            assert np.all(np.isfinite(obs)) and np.all(np.isfinite(reward)) and not truncated.any()
        assert set(np.unique(info["success"])) <= {0.0, 1.0}
    finally:
        env.close()

    report = suite.evaluator()(scripted(tasks), 1)
    assert list(report.rows) == list(tasks)
    for row in report.rows.values():
        assert set(row) == {"success_rate", "episode_return"}
        assert row["success_rate"] in (0.0, 1.0) and row["episode_return"] > 0
    # Meta-World's experts solve these reliably; one episode each leaves room for a rare miss
    assert report.mean("success_rate") >= 0.8


def test_evaluation_separates_an_expert_from_a_policy_that_stands_still():
    evaluate = metaworld_suite("MT1", seed=2, task="reach").evaluator()
    expert = evaluate(scripted(["reach-v3"]), 3)
    still = evaluate(lambda obs, task_ids: np.zeros((len(obs), 4)), 3)
    assert expert.rows["reach-v3"]["success_rate"] == 1.0
    assert still.rows["reach-v3"]["success_rate"] == 0.0


def test_ml_benchmark_splits_goals_over_worlds_and_resumes_from_its_snapshot():
    assert metaworld_suite("ML10").tasks("test") == ("drawer-open-v3", "door-close-v3", "shelf-place-v3", "sweep-into-v3", "lever-pull-v3")
    env = metaworld_suite("ML1", task="reach", worlds_per_task=2).make_vec("train")
    try:
        obs, _ = env.reset(seed=0)
        assert np.all(obs[:, 36:39] == 0)  # ML hides the goal
        goals = np.array(env.env.get_attr("_target_pos"))
        assert not np.allclose(goals[0], goals[1])
        state = env.get_state()
        after = env.reset()[0]
        goals_after = np.array(env.env.get_attr("_target_pos"))
        np.testing.assert_allclose(env.set_state(state), after)
        np.testing.assert_allclose(np.array(env.env.get_attr("_target_pos")), goals_after)
    finally:
        env.close()


def test_bad_names_say_what_is_accepted():
    with pytest.raises(ValueError, match="unknown Meta-World benchmark 'MT11'"):
        metaworld_suite("MT11")
    with pytest.raises(ValueError, match="Did you mean 'reach-v3'"):
        metaworld_suite("MT1", task="rech")
    with pytest.raises(ValueError, match="MT1 needs a task"):
        metaworld_suite("MT1")
    with pytest.raises(ValueError, match="worlds_per_task must be 1"):
        metaworld_suite("MT10", worlds_per_task=2)
    with pytest.raises(ValueError, match="Known suites: metaworld, polytask"):
        make_suite(EnvConfig(suite="mujoco"))


def test_options_meta_world_cannot_honour_are_refused_naming_what_it_accepts():
    with pytest.raises(ValueError, match="env.batched=True.*leave env.batched unset"):
        metaworld_suite("MT10", batched=True)
    with pytest.raises(ValueError, match="env.goal_observable=False.*shows the goal on MT benchmarks"):
        metaworld_suite("MT10", goal_observable=False)
    with pytest.raises(ValueError, match="env.eval_max_steps=50"):
        metaworld_suite("MT10", eval_max_steps=50)
    with pytest.raises(ValueError, match="env.one_hot=True"):
        metaworld_suite("MT10").make_vec(one_hot=True)


def test_tasks_regroup_the_benchmarks_own_worlds():
    suite = metaworld_suite("MT10", seed=3)
    full, only_push = suite.make_vec(), suite.make_vec(tasks=("push",))
    try:
        assert only_push.num_envs == 1 and only_push.world_tasks == ["push-v3"]
        obs, info = only_push.reset(seed=0)
        assert list(info["task_id"]) == [0] and obs.shape == (1, 39)
    finally:
        full.close()
        only_push.close()


def test_polytask_suite_goes_through_the_same_calls():
    suite = make_suite(EnvConfig(benchmark="MT1", task="reach", eval_max_steps=5))
    env = suite.make_vec()
    try:
        obs, info = env.reset(seed=0)
        assert obs.shape == (1, 39) and list(info["task_id"]) == [0]
    finally:
        env.close()
    report = suite.evaluator()(lambda o, t: np.zeros((len(o), 4)), 1)
    assert list(report.rows) == ["reach"]
