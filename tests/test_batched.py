"""The batched simulator against the single envs (gymnasium's SyncVectorEnv over them).

Physics and observations must match bit for bit: each world keeps its own
MjData, so the solver warm start carries over exactly as in the single env.
Rewards and reward terms are compared to 1e-12: a task's ``evaluate`` runs on
a stacked batch, and numpy's vectorized loops may round the last bit
differently than on one row.
"""

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import envs
from envs import world
from envs.base import MAX_EPISODE_STEPS
from envs.batched import BatchedVectorEnv
from envs.batched_frames import mat_to_quat
from envs.vector import BenchmarkVectorEnv

TASK_NAMES = list(envs.TASKS)
REWARD_TOLERANCE = 1e-12


def assert_same_step(batched_out, reference_out, where):
    obs, reward, terminated, truncated, info = batched_out
    ref_obs, ref_reward, ref_terminated, ref_truncated, ref_info = reference_out
    np.testing.assert_array_equal(obs, ref_obs, err_msg=f"{where}: observations")
    np.testing.assert_allclose(reward, ref_reward, rtol=0, atol=REWARD_TOLERANCE, err_msg=f"{where}: rewards")
    np.testing.assert_array_equal(terminated, ref_terminated, err_msg=f"{where}: terminated")
    np.testing.assert_array_equal(truncated, ref_truncated, err_msg=f"{where}: truncated")
    assert set(info) == set(ref_info), f"{where}: info keys differ: {set(info) ^ set(ref_info)}"
    for key, value in ref_info.items():
        assert info[key].dtype == value.dtype, f"{where}: info[{key!r}] dtype"
        if key in ("success", "_success", "task_id", "variation") or key.startswith("_"):
            np.testing.assert_array_equal(info[key], value, err_msg=f"{where}: info[{key!r}]")
        else:
            np.testing.assert_allclose(info[key], value, rtol=0, atol=REWARD_TOLERANCE, err_msg=f"{where}: info[{key!r}]")


def mixed_actions(task_names, observations, rng):
    """Mostly the scripted experts (contacts, grasps), some random actions."""
    return np.stack([envs.get_task(t).expert(o[: envs.OBS_DIM]) if rng.random() < 0.7 else rng.uniform(-1.2, 1.2, 4) for t, o in zip(task_names, observations)])


def run_lockstep(batched, reference, obs, steps, rng):
    """Step both envs with the same actions; returns the last observations."""
    for t in range(steps):
        actions = mixed_actions(reference.tasks_now, obs, rng)
        out = batched.step(actions)
        assert_same_step(out, reference.step(actions), f"step {t}")
        obs = out[0]
    return obs


@pytest.mark.parametrize("task", TASK_NAMES)
def test_trajectories_match_single_envs_through_an_autoreset(task):
    bench = envs.MT1(task)
    batched = BatchedVectorEnv(bench, num_envs=2, num_threads=2)
    reference = BenchmarkVectorEnv(bench, num_envs=2)
    obs, info = batched.reset(seed=11)
    ref_obs, ref_info = reference.reset(seed=11)
    np.testing.assert_array_equal(obs, ref_obs)
    np.testing.assert_array_equal(info["variation"], ref_info["variation"])
    # past one truncation: the autoreset step and a few steps of the next episode
    run_lockstep(batched, reference, obs, MAX_EPISODE_STEPS + 5, np.random.default_rng(0))


def test_mixed_tasks_in_one_batch_with_per_world_task_switches():
    tasks = TASK_NAMES[:6] if len(TASK_NAMES) >= 6 else TASK_NAMES
    bench = envs.Benchmark("mixed", tuple(tasks), tuple(tasks))
    batched = BatchedVectorEnv(bench, num_envs=3 * len(tasks), num_threads=3)  # more than one chunk
    reference = BenchmarkVectorEnv(bench, num_envs=3 * len(tasks))
    rng = np.random.default_rng(1)
    obs, _ = batched.reset(seed=3)
    np.testing.assert_array_equal(obs, reference.reset(seed=3)[0])
    run_lockstep(batched, reference, obs, 30, rng)
    new_tasks = [tasks[(i * 5) % len(tasks)] if i % 3 else None for i in range(batched.num_envs)]
    variations = [i if i % 2 else None for i in range(len(new_tasks))]
    options = {"task": new_tasks, "variation": variations}
    obs, info = batched.reset(seed=[100 + i for i in range(batched.num_envs)], options=options)
    ref_obs, ref_info = reference.reset(seed=[100 + i for i in range(batched.num_envs)], options=options)
    np.testing.assert_array_equal(obs, ref_obs)
    np.testing.assert_array_equal(info["task_id"], ref_info["task_id"])
    assert batched.tasks_now == reference.tasks_now
    run_lockstep(batched, reference, obs, 30, rng)


def test_thread_count_does_not_change_results():
    tasks, worlds = TASK_NAMES[:4], 4 * BatchedVectorEnv.MIN_CHUNK  # enough worlds for several chunks
    runs = []
    for threads in (1, 2, 5):
        vec = BatchedVectorEnv(tasks=tasks, num_envs=worlds, num_threads=threads)
        obs, _ = vec.reset(seed=0)
        rng = np.random.default_rng(2)
        out = [np.column_stack([obs, np.zeros(worlds)])]
        for _ in range(30):
            obs, reward, *_ = vec.step(rng.uniform(-1, 1, (worlds, 4)))
            out.append(np.column_stack([obs, reward]))
        assert threads == 1 or vec._pool is not None, "the steps ran on the thread pool"
        vec.close()
        runs.append(np.concatenate(out))
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])


def test_autoreset_is_next_step_and_keeps_the_final_observation():
    vec = BatchedVectorEnv(tasks=[TASK_NAMES[0]], num_envs=3, num_threads=1)
    assert vec.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    vec.reset(seed=0)
    zeros = np.zeros((3, 4))
    for _ in range(MAX_EPISODE_STEPS - 1):
        *_, truncated, _ = vec.step(zeros)
        assert not truncated.any()
    final_obs, _, _, truncated, _ = vec.step(zeros)
    assert truncated.all()
    obs, reward, terminated, truncated, info = vec.step(zeros)
    assert not (terminated.any() or truncated.any()) and not reward.any()
    assert info["_variation"].all() and "success" not in info, "every world was reset, none stepped"
    np.testing.assert_array_equal(obs[:, :18], obs[:, 18:36], "a fresh episode's previous frame is its first")
    assert not np.array_equal(obs, final_obs)


def test_reset_mask_resets_only_the_chosen_worlds():
    vec = BatchedVectorEnv(tasks=TASK_NAMES[:2], num_envs=4, num_threads=2)
    vec.reset(seed=0)
    for _ in range(5):
        before, *_ = vec.step(np.full((4, 4), 0.5))
    mask = np.array([True, False, True, False])
    obs, info = vec.reset(seed=[7, None, 9, None], options={"reset_mask": mask})
    np.testing.assert_array_equal(obs[~mask], before[~mask])
    assert list(info["_variation"]) == list(mask)
    with pytest.raises(ValueError, match="reset_mask"):
        vec.reset(options={"reset_mask": [True] * 4})


def test_snapshots_restore_exactly_and_exchange_with_the_sync_vector_env():
    bench = envs.Benchmark("two", tuple(TASK_NAMES[:2]), tuple(TASK_NAMES[:2]))
    batched = BatchedVectorEnv(bench, num_envs=4, num_threads=2)
    batched.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(25):
        batched.step(rng.uniform(-1, 1, (4, 4)))
    snapshot = batched.get_state()
    actions = rng.uniform(-1, 1, (30, 4, 4))
    first = [batched.step(a) for a in actions]
    restored = BatchedVectorEnv(bench, num_envs=4, num_threads=1)
    restored.reset(seed=99)
    reference = BenchmarkVectorEnv(bench, num_envs=4)
    reference.reset(seed=42)
    np.testing.assert_array_equal(restored.set_state(snapshot), reference.set_state(snapshot))
    for a, out in zip(actions, first):
        assert_same_step(restored.step(a), out, "restored batched env")
        assert_same_step(reference.step(a), out, "sync vector env from a batched snapshot")
    with pytest.raises(ValueError, match="worlds"):
        BatchedVectorEnv(bench, num_envs=6).set_state(snapshot)


def test_controls_are_what_a_step_writes_into_every_world():
    vec = BatchedVectorEnv("MT10", num_envs=20, num_threads=1)
    with pytest.raises(RuntimeError, match="reset"):
        vec.controls(np.zeros((20, 4)))
    vec.reset(seed=3)
    actions = np.random.default_rng(0).uniform(-1.5, 1.5, (20, 4))  # out-of-range values are clipped alike
    expected = vec.controls(actions)
    vec.step(actions)
    for i, world in enumerate(vec.worlds):
        data = world.active.data
        np.testing.assert_array_equal(data.ctrl, expected[i, : world.active.model.nu])
        assert np.all(data.ctrl != 0.0)


def test_hidden_goal_and_one_hot_match_the_multi_task_env():
    tasks = tuple(TASK_NAMES[:3])
    bench = envs.Benchmark("three", tasks, tasks)
    batched = BatchedVectorEnv(bench, num_envs=3, one_hot=True, goal_observable=False)
    reference = BenchmarkVectorEnv(bench, num_envs=3, one_hot=True, goal_observable=False)
    obs, _ = batched.reset(seed=1)
    np.testing.assert_array_equal(obs, reference.reset(seed=1)[0])
    assert obs.shape == (3, envs.OBS_DIM + 3) and not obs[:, 36:39].any()
    np.testing.assert_array_equal(obs[:, envs.OBS_DIM :], np.eye(3))
    assert batched.single_observation_space == reference.single_observation_space
    run_lockstep(batched, reference, obs, 20, np.random.default_rng(4))


def test_dynamics_variation_keeps_a_model_per_world():
    tasks = tuple(TASK_NAMES[:2])
    bench = envs.Benchmark("two", tasks, tasks)
    dynamics = envs.DynamicsVariation(mass_scale=(0.5, 2.0), friction_scale=(0.5, 1.5), damping_scale=(0.5, 2.0))
    batched = BatchedVectorEnv(bench, num_envs=4, dynamics=dynamics)
    reference = BenchmarkVectorEnv(bench, num_envs=4, dynamics=dynamics)
    obs, _ = batched.reset(seed=8)
    np.testing.assert_array_equal(obs, reference.reset(seed=8)[0])
    masses = [w.active.model.body_mass for w in batched.worlds]
    assert not np.array_equal(masses[0], masses[2]), "two worlds of one task drew different masses"
    run_lockstep(batched, reference, obs, 40, np.random.default_rng(5))


def test_render_returns_one_frame_per_world():
    vec = BatchedVectorEnv(tasks=TASK_NAMES[:1], num_envs=2, render_mode="rgb_array", width=32, height=24)
    vec.reset(seed=0)
    vec.step(np.zeros((2, 4)))
    frames = vec.render()
    assert len(frames) == 2 and all(f.shape == (24, 32, 3) for f in frames)
    vec.close()


@pytest.mark.parametrize("task", TASK_NAMES)
def test_frame_sensors_change_no_dynamics(task):
    """The sensors the batched simulator reads leave the single env's physics bit for bit alone."""
    cls = envs.get_task(task)
    spec = world.base_spec()
    cls.build(spec)
    models = [spec.compile(), cls.compile_model()]
    assert models[1].nsensordata > models[0].nsensordata
    datas = [mujoco.MjData(m) for m in models]
    controls = np.random.default_rng(0).uniform(-1, 1, (100, models[0].nu))
    for ctrl in controls:
        for model, data in zip(models, datas):
            data.ctrl[:] = ctrl
            mujoco.mj_step(model, data, envs.FRAME_SKIP)
        np.testing.assert_array_equal(datas[0].qpos, datas[1].qpos)
        np.testing.assert_array_equal(datas[0].qvel, datas[1].qvel)


def test_mat_to_quat_gives_mujocos_bits():
    rng = np.random.default_rng(0)
    quats = rng.normal(size=(4000, 4))
    quats[:8] = np.eye(4)[np.arange(8) % 4]  # each branch at its exact corner
    quats[8:12] = -np.eye(4)
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    mats = np.empty((len(quats), 9))
    expected = np.empty((len(quats), 4))
    for q, m, e in zip(quats, mats, expected):
        mujoco.mju_quat2Mat(m, q)
        mujoco.mju_mat2Quat(e, m)
    np.testing.assert_array_equal(mat_to_quat(mats), expected)


def test_bad_input_is_rejected_with_clear_errors():
    with pytest.raises(ValueError, match="either a benchmark"):
        BatchedVectorEnv("MT10", tasks=["reach"])
    with pytest.raises(ValueError, match="num_threads"):
        BatchedVectorEnv(tasks=TASK_NAMES[:1], num_threads=0)
    with pytest.raises(ValueError, match="num_envs"):
        BatchedVectorEnv(tasks=TASK_NAMES[:2], num_envs=0)
    with pytest.raises(ValueError, match="unknown task"):
        BatchedVectorEnv(tasks=["no-such-task"])
    vec = BatchedVectorEnv(tasks=TASK_NAMES[:1], num_envs=2)
    with pytest.raises(RuntimeError, match="reset"):
        vec.step(np.zeros((2, 4)))
    vec.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(2, 4\)"):
        vec.step(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="finite"):
        vec.step(np.array([[0.0, 0.0, np.nan, 0.0], [0.0] * 4]))
    with pytest.raises(ValueError, match="one entry per world"):
        vec.reset(options={"task": [TASK_NAMES[0]]})
    with pytest.raises(ValueError, match="one seed per world"):
        vec.reset(seed=[1, 2, 3])
    with pytest.raises(ValueError, match="unknown reset options"):
        vec.reset(options={"varation": [1, 2]})


def test_make_vec_gives_the_batched_env_for_every_benchmark_id():
    vec = gym.make_vec("polytask/MT1", task=TASK_NAMES[0], num_envs=3, num_threads=2)
    assert isinstance(vec.unwrapped, BatchedVectorEnv) and vec.unwrapped.num_threads == 2
    obs, info = vec.reset(seed=0)
    assert obs.shape == (3, envs.OBS_DIM) and list(info["task_id"]) == [0, 0, 0]
    for name in envs.BENCHMARKS:
        if name in ("MT1", "ML1"):
            continue
        try:
            bench = envs.get_benchmark(name)
        except ValueError:  # its tasks are not all registered yet
            continue
        vec = gym.make_vec(f"polytask/{name}")
        assert isinstance(vec.unwrapped, BatchedVectorEnv) and vec.unwrapped.tasks_now == list(bench.tasks("train"))
    plain = gym.make_vec("polytask/MT1", task=TASK_NAMES[0], num_envs=2, batched=False)
    assert isinstance(plain.unwrapped, BenchmarkVectorEnv)


def test_speed_benchmark_script_prints_its_tables(capsys):
    """A smoke run of benchmarks/env_speed.py on a tiny budget: it runs and prints; no timing is asserted."""
    from benchmarks import env_speed

    env_speed.main(["--quick", "--no-metaworld", "--tasks", TASK_NAMES[0], "--worlds", "10"])
    out = capsys.readouterr().out
    for title in ("(a) single env", "(b) MT10", "(c) batched MT10 scaling"):
        assert title in out
    assert "raw mj_step bound, mujoco.rollout" in out and "cost / raw (CPU)" in out


@pytest.mark.parametrize("task", TASK_NAMES)
def test_reward_function_scores_like_the_task_env(task):
    """The pure (obs, action, init_obs) reward the batched simulator calls is the env's own ``evaluate``."""
    from envs.reward_function import RewardFunction

    env, reward_function = envs.get_task(task)(), RewardFunction(task)
    obs, _ = env.reset(seed=4)
    expert = envs.scripted_policy(task)
    for _ in range(60):
        action = expert(obs)
        obs, reward, _, _, info = env.step(action)
        expected_reward, expected_info = reward_function(obs, np.asarray(action, dtype=np.float64), env.init_obs)
        assert float(expected_reward) == reward and {k: float(v) for k, v in expected_info.items()} == info


def test_scoring_builds_no_task_env_beyond_the_worlds(monkeypatch):
    built = []
    original = envs.PolytaskEnv.__init__
    monkeypatch.setattr(envs.PolytaskEnv, "__init__", lambda self, *a, **k: (built.append(self.name), original(self, *a, **k))[1])
    vec = BatchedVectorEnv("MT10", num_envs=10, num_threads=1)
    vec.reset(seed=0)
    vec.step(np.zeros((10, 4)))
    assert sorted(built) == sorted(vec.tasks_now)


def test_step_state_round_trips_through_a_task_env():
    env = envs.get_task("push")()
    env.reset(seed=0)
    for _ in range(3):
        env.step(np.array([0.3, -0.2, 0.1, 1.0]))
    state = env.step_state()
    other = envs.get_task("push")()
    other.reset(seed=9)
    other.load_step_state(state)
    again = other.step_state()
    for field in ("obs", "previous_frame", "init_obs", "goal"):
        np.testing.assert_array_equal(getattr(again, field), getattr(state, field))
    assert again.steps == state.steps == 3
