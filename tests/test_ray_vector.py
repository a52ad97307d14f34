"""Simulation actors (``envs.ray_vector``): the in-process batched simulator's worlds, stepped in shares by Ray actors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from agents.collector import Collector
from envs.batched import BatchedVectorEnv
from envs.ray_vector import RayVectorEnv, shares
from envs.suite import EnvConfig, make_suite
from test_collector import BENCH, EPISODE, TASKS, rotate_tasks
from test_cli import ROOT
from test_user_path import launch, ok, one_line_error

#: a lone world of a task scores its reward on the scalar path, a group on the numpy path: equal up to rounding
CLOSE = {"rtol": 1e-12, "atol": 1e-12}


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="error", log_to_driver=False)
    yield ray
    ray.shutdown()


def assert_same_step(ours, theirs):
    for mine, reference in zip(ours[:4], theirs[:4]):
        np.testing.assert_allclose(mine, reference, **CLOSE)
    assert sorted(ours[4]) == sorted(theirs[4])
    for key, value in theirs[4].items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            np.testing.assert_allclose(ours[4][key], value, **CLOSE, err_msg=key)
        else:
            np.testing.assert_array_equal(ours[4][key], value, err_msg=key)


def near_episode_end(env, steps_left: int) -> np.ndarray:
    """Move every world's episode to ``steps_left`` steps before its end (autoresets within a few
    steps, not 500); returns the observations."""
    state = env.get_state()
    for world in state["worlds"]:
        world["envs"][world["task"]]["steps"] = EPISODE - steps_left
    return env.set_state(state)


def test_shares_are_contiguous_near_equal_and_cover_every_world():
    assert shares(13, 2) == [slice(0, 7), slice(7, 13)]
    assert shares(10, 3) == [slice(0, 4), slice(4, 7), slice(7, 10)]
    assert shares(4, 4) == [slice(k, k + 1) for k in range(4)]
    for bad in (0, 5):
        with pytest.raises(ValueError, match="between 1 and the worlds"):
            shares(4, bad)


def test_a_share_of_worlds_may_leave_out_tasks_and_switch_to_them_at_reset():
    env = BatchedVectorEnv(BENCH, world_tasks=["push", "push"], num_threads=1)
    _, info = env.reset(seed=0)
    assert list(info["task_id"]) == [1, 1]
    env.reset(options={"reset_mask": np.array([True, False]), "task": ["drawer-close", None]})
    assert env.tasks_now == ["drawer-close", "push"]
    obs, *_ = env.step(np.zeros((2, 4)))
    assert np.all(np.isfinite(obs))
    with pytest.raises(ValueError, match="world_tasks must name"):
        BatchedVectorEnv(BENCH, world_tasks=["door-open"])


def test_actors_step_the_worlds_of_the_in_process_simulator_through_autoresets(ray_instance):
    ours, reference = RayVectorEnv("MT10", num_envs=13, num_actors=2), BatchedVectorEnv("MT10", num_envs=13, num_threads=1)
    try:
        assert ours.observation_space == reference.observation_space and ours.action_space == reference.action_space
        first, reference_first = ours.reset(seed=3), reference.reset(seed=3)
        np.testing.assert_array_equal(first[0], reference_first[0])
        np.testing.assert_array_equal(first[1]["task_id"], reference_first[1]["task_id"])
        rng = np.random.default_rng(0)
        for _ in range(5):
            actions = rng.uniform(-1, 1, (13, 4))
            assert_same_step(ours.step(actions), reference.step(actions))
        np.testing.assert_array_equal(near_episode_end(ours, 5), near_episode_end(reference, 5))
        ended = 0
        for _ in range(7):  # past the autoreset of every world
            actions = rng.uniform(-1, 1, (13, 4))
            step = ours.step(actions)
            assert_same_step(step, reference.step(actions))
            ended += step[3].sum()
        assert ended == 13
        # a partial reset that moves worlds of both actors onto tasks their shares did not start
        mask = np.zeros(13, dtype=bool)
        mask[[0, 12]] = True
        options = {"reset_mask": mask, "task": ["window-close"] + [None] * 11 + ["reach"], "variation": [4] * 13}
        obs, info = ours.reset(options=options)
        reference_obs, reference_info = reference.reset(options=options)
        np.testing.assert_array_equal(obs, reference_obs)
        np.testing.assert_array_equal(info["_task_id"], mask)
        np.testing.assert_array_equal(info["task_id"][mask], reference_info["task_id"][mask])
        assert ours.tasks_now == reference.tasks_now and ours.tasks_now[0] == "window-close"
        actions = rng.uniform(-1, 1, (13, 4))
        assert_same_step(ours.step(actions), reference.step(actions))
    finally:
        ours.close()
        reference.close()


def test_snapshots_move_between_actors_and_the_in_process_simulator(ray_instance):
    ours, reference = RayVectorEnv(BENCH, num_envs=5, num_actors=2), BatchedVectorEnv(BENCH, num_envs=5, num_threads=1)
    try:
        ours.reset(seed=1)
        rng = np.random.default_rng(1)
        for _ in range(40):
            ours.step(rng.uniform(-1, 1, (5, 4)))
        snapshot = ours.get_state()
        np.testing.assert_array_equal(reference.set_state(snapshot), ours.set_state(snapshot))
        for _ in range(30):
            actions = rng.uniform(-1, 1, (5, 4))
            assert_same_step(ours.step(actions), reference.step(actions))
        snapshot = reference.get_state()
        np.testing.assert_array_equal(ours.set_state(snapshot), reference.set_state(snapshot))
        actions = rng.uniform(-1, 1, (5, 4))
        assert_same_step(ours.step(actions), reference.step(actions))
    finally:
        ours.close()
        reference.close()


def test_the_collector_gathers_the_same_transitions_from_actors(ray_instance):
    """A meta-learner's collection (worlds change task at reset) on actors equals it in process."""
    ours, reference = RayVectorEnv(BENCH, num_envs=3, num_actors=2), BatchedVectorEnv(BENCH, num_envs=3, num_threads=1)
    collectors = [Collector(env, TASKS, seed=0) for env in (ours, reference)]
    for collector in collectors:
        collector.next_episode = rotate_tasks(collector)
    rng = np.random.default_rng(0)
    try:
        for collector in collectors:
            collector.obs = near_episode_end(collector.env, 4)
        for _ in range(10):
            actions = rng.uniform(-1, 1, (3, 4))
            mine, theirs = (collector.step(actions) for collector in collectors)
            for field, value in zip(mine._fields, mine):
                np.testing.assert_allclose(value, getattr(theirs, field), **CLOSE, err_msg=field)
        metrics = [collector.pop_metrics() for collector in collectors]
        assert metrics[0] == metrics[1] and metrics[0], metrics
    finally:
        ours.close()
        reference.close()


def test_the_suite_builds_actors_when_asked_and_rejects_them_where_they_cannot_run(ray_instance):
    env = make_suite(EnvConfig(benchmark="MT10", simulation_actors=2, physics_threads=1)).make_vec()
    try:
        assert isinstance(env, RayVectorEnv) and env.num_envs == 10 and len(env._shares) == 2
    finally:
        env.close()
    assert isinstance(make_suite(EnvConfig(benchmark="MT10")).make_vec(), BatchedVectorEnv)  # the default stays in process
    with pytest.raises(ValueError, match="simulation_actors"):
        make_suite(EnvConfig(benchmark="MT10", simulation_actors=2, batched=False))
    with pytest.raises(ValueError, match="3 simulation actors of 1 physics thread.* need 3 CPUs; the Ray cluster has 2"):
        make_suite(EnvConfig(benchmark="MT10", simulation_actors=3, physics_threads=1)).make_vec()
    with pytest.raises(ValueError, match="simulation_actors must be >= 0"):
        EnvConfig(simulation_actors=-1)


def test_actors_that_cannot_be_scheduled_fail_with_what_is_missing(ray_instance, monkeypatch):
    import envs.ray_vector

    holding = RayVectorEnv(BENCH, num_envs=3, num_actors=2)  # both of the instance's CPUs (started with the usual patience)
    try:
        with monkeypatch.context() as patch:  # only the actor that cannot start waits 3 s: a loaded machine starts actors slowly
            patch.setattr(envs.ray_vector, "ACTOR_START_SECONDS", 3)
            with pytest.raises(ValueError, match=r"1 of 1 simulation actors were not started within 3 s: they need 1 CPUs and the Ray cluster has 0 of 2 free"):
                RayVectorEnv(BENCH, num_envs=3, num_actors=1)
    finally:
        holding.close()
    RayVectorEnv(BENCH, num_envs=3, num_actors=1).close()  # the failed actor let go of nothing it held


def test_without_ray_simulation_actors_say_how_to_install_it(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "ray.py").write_text("raise ImportError('no ray here')\n")
    one_line_error(launch("train", "mt10-pcgrad", "--env.simulation-actors", "2", "--run.budget", "20",
                          "--run.runs-dir", tmp_path, pythonpath=[blocker]), "pip install 'polytask[sweep]'")
    # without actors nothing needs Ray: the default suite's worlds build and step
    script = ("from envs.suite import EnvConfig, make_suite; import numpy as np; env = make_suite(EnvConfig()).make_vec(); "
              "env.reset(seed=0); env.step(np.zeros((env.num_envs, 4))); print(type(env).__name__)")
    done = ok(subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(blocker)])}))
    assert done.stdout.strip() == "BatchedVectorEnv"


@pytest.mark.slow
def test_a_training_run_collects_from_simulation_actors(tmp_path):
    pytest.importorskip("ray")
    done = ok(launch("train", "mt10-pcgrad", "--env.simulation-actors", "2", "--env.physics-threads", "1", "--run.budget", "2000",
                     "--run.eval-every", "2000", "--env.eval-episodes-per-task", "1", "--run.runs-dir", tmp_path,
                     "--run.name", "actors", "--run.no-progress-bar"))
    assert (tmp_path / "actors" / "report.json").exists(), done.stdout[-2000:]
