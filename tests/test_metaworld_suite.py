"""The Meta-World bridge: its benchmarks behind polytask's vector-env and
evaluation interface (one world per task, ``info["task_id"]``, EvalReport)."""

import numpy as np
import pytest

from envs.metaworld_suite import make_evaluator, make_suite_vec, suite_tasks

metaworld = pytest.importorskip("metaworld", reason="Meta-World is optional: pip install 'polytask[metaworld]'")
from metaworld.policies import ENV_POLICY_MAP  # noqa: E402


def scripted(task_names):
    """Meta-World's scripted expert of each row's task, as a batch policy."""
    experts = [ENV_POLICY_MAP[name]() for name in task_names]
    return lambda obs, task_ids: np.stack([experts[t].get_action(o) for o, t in zip(obs, task_ids)])


def test_mt10_runs_with_task_ids_and_reports_per_task_success():
    tasks = suite_tasks("metaworld", "MT10")
    assert tasks[:2] == ("reach-v3", "push-v3") and len(tasks) == 10
    env = make_suite_vec("metaworld", "MT10", seed=1)
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

    report = make_evaluator("metaworld", "MT10", seed=1)(scripted(tasks), 1)
    assert list(report.rows) == list(tasks)
    for row in report.rows.values():
        assert set(row) == {"success_rate", "episode_return"}
        assert row["success_rate"] in (0.0, 1.0) and row["episode_return"] > 0
    # Meta-World's experts solve these reliably; one episode each leaves room for a rare miss
    assert report.mean("success_rate") >= 0.8


def test_evaluation_separates_an_expert_from_a_policy_that_stands_still():
    evaluate = make_evaluator("metaworld", "MT1", task="reach", seed=2)
    expert = evaluate(scripted(["reach-v3"]), 3)
    still = evaluate(lambda obs, task_ids: np.zeros((len(obs), 4)), 3)
    assert expert.rows["reach-v3"]["success_rate"] == 1.0
    assert still.rows["reach-v3"]["success_rate"] == 0.0


def test_ml_benchmark_splits_goals_over_worlds_and_resumes_from_its_snapshot():
    assert suite_tasks("metaworld", "ML10", "test") == ("drawer-open-v3", "door-close-v3", "shelf-place-v3", "sweep-into-v3", "lever-pull-v3")
    env = make_suite_vec("metaworld", "ML1", "train", task="reach", seed=0, worlds_per_task=2)
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
        suite_tasks("metaworld", "MT11")
    with pytest.raises(ValueError, match="Did you mean 'reach-v3'"):
        suite_tasks("metaworld", "MT1", task="rech")
    with pytest.raises(ValueError, match="MT1 needs a task"):
        suite_tasks("metaworld", "MT1")
    with pytest.raises(ValueError, match="worlds_per_task must be 1"):
        make_suite_vec("metaworld", "MT10", worlds_per_task=2)
    with pytest.raises(ValueError, match="suites: polytask, metaworld"):
        suite_tasks("mujoco", "MT10")


def test_polytask_suite_goes_through_the_same_calls():
    env = make_suite_vec("polytask", "MT1", task="reach")
    try:
        obs, info = env.reset(seed=0)
        assert obs.shape == (1, 39) and list(info["task_id"]) == [0]
    finally:
        env.close()
    report = make_evaluator("polytask", "MT1", task="reach", max_steps=5)(lambda o, t: np.zeros((len(o), 4)), 1)
    assert list(report.rows) == ["reach"]
