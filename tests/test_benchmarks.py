"""Benchmarks as data, the multi-task env and the benchmark vector env."""

import gymnasium as gym
import numpy as np
import pytest

import envs
from envs.benchmarks import ML10_TEST_TASKS, ML10_TRAIN_TASKS, MT10_TASKS, variation_seeds

ALL_MT10_REGISTERED = all(t in envs.TASKS for t in MT10_TASKS)
ALL_ML10_REGISTERED = all(t in envs.TASKS for t in ML10_TRAIN_TASKS + ML10_TEST_TASKS)


def test_variation_seeds_are_fixed_distinct_and_split():
    train, test = variation_seeds("reach", "train"), variation_seeds("reach", "test")
    assert len(train) == len(test) == 50
    assert len(set(train)) == 50 and not set(train) & set(test)
    assert train == variation_seeds("reach", "train")
    assert envs.MT1("reach").variations("reach") == train


def test_pinned_variation_reproduces_the_initial_state():
    env = envs.get_task("reach")()
    a, _ = env.reset(seed=1, options={"variation": 7})
    b, _ = env.reset(seed=2, options={"variation": 7})
    np.testing.assert_array_equal(a, b)
    c, _ = env.reset(seed=2, options={"variation": None})
    assert not np.array_equal(a, c)
    # the index names the seeded variation of the split; a raw seed goes under its own name
    seeded, info = env.reset(options={"variation_seed": variation_seeds("reach", "train")[7]})
    np.testing.assert_array_equal(seeded, a)
    assert info == {"variation": None, "variation_seed": variation_seeds("reach", "train")[7]}
    held_out, info = env.reset(options={"variation": 7, "split": "test"})
    assert info["variation"] == 7 and info["variation_seed"] == variation_seeds("reach", "test")[7]
    assert not np.array_equal(held_out, a)


def test_a_variation_is_an_index_and_out_of_range_is_a_clear_error():
    env = envs.get_task("reach")()
    for bad in (50, -1, 10**6):
        with pytest.raises(ValueError, match="out of range: reach's train split has 50 variations"):
            env.reset(options={"variation": bad})
    with pytest.raises(TypeError, match="raw seed goes under 'variation_seed'"):
        env.reset(options={"variation": 2.5})
    with pytest.raises(ValueError, match="not both"):
        env.reset(options={"variation": 1, "variation_seed": 5})
    world = envs.MultiTaskEnv("ML10", split="train")
    with pytest.raises(ValueError, match="out of range: reach in ML10/train has 50 variations"):
        world.reset(options={"variation": 50})
    _, info = world.reset(options={"variation": 49})
    assert info["variation"] == 49


def test_unknown_names_list_near_matches():
    with pytest.raises(ValueError, match="Did you mean 'reach'"):
        envs.get_task("reech")
    with pytest.raises(ValueError, match="Did you mean .*'MT10'"):
        envs.get_benchmark("MT01")
    with pytest.raises(ValueError, match="needs a task"):
        envs.get_benchmark("MT1")
    with pytest.raises(ValueError, match="unknown reset options"):
        envs.get_task("reach")().reset(options={"varation": 3})


def test_mt1_vector_env_over_one_task():
    vec = envs.make_benchmark_vec("MT1", task="reach", num_envs=3)
    obs, info = vec.reset(seed=0)
    assert obs.shape == (3, envs.OBS_DIM)
    assert list(info["task_id"]) == [0, 0, 0]
    obs, reward, terminated, truncated, info = vec.step(np.zeros((3, 4)))
    assert reward.shape == (3,) and not terminated.any()


def test_gymnasium_make_vec_entry_point():
    vec = gym.make_vec("polytask/MT1", task="reach", num_envs=2)
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (2, envs.OBS_DIM)
    single = gym.make("polytask/MT1", task="reach")
    assert single.reset(seed=0)[0].shape == (envs.OBS_DIM,)


def test_one_hot_task_observation():
    env = envs.MultiTaskEnv(envs.MT1("reach"), one_hot=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (envs.OBS_DIM + 1,) and obs[-1] == 1.0
    assert env.observation_space.contains(obs)


def test_per_world_task_and_variation_choice():
    bench = envs.MT1("reach")
    vec = envs.make_benchmark_vec(bench, num_envs=2)
    v = 3
    obs, _ = vec.reset(seed=0, options={"variation": [v, v]})
    np.testing.assert_array_equal(obs[0], obs[1])
    # a pinned variation survives the next reset (an RL² trial keeps its task)
    again, _ = vec.reset(seed=5)
    np.testing.assert_array_equal(again[0], obs[0])
    with pytest.raises(ValueError, match="one entry per world"):
        vec.reset(options={"variation": [v]})


def test_vector_snapshot_round_trip():
    vec = envs.make_benchmark_vec("MT1", task="reach", num_envs=2)
    vec.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        vec.step(rng.uniform(-1, 1, (2, 4)))
    state = vec.get_state()
    actions = rng.uniform(-1, 1, (10, 2, 4))
    first = [vec.step(a)[0] for a in actions]
    other = envs.make_benchmark_vec("MT1", task="reach", num_envs=2)
    other.reset(seed=9)
    other.set_state(state)
    second = [other.step(a)[0] for a in actions]
    np.testing.assert_array_equal(np.array(first), np.array(second))


@pytest.mark.skipif(not ALL_MT10_REGISTERED, reason="MT10 tasks not all registered")
def test_make_vec_mt10_gives_one_world_per_task():
    vec = gym.make_vec("polytask/MT10")
    obs, info = vec.reset(seed=0)
    assert obs.shape == (10, envs.OBS_DIM)
    assert sorted(info["task_id"]) == list(range(10))
    assert vec.unwrapped.tasks_now == list(MT10_TASKS)


@pytest.mark.skipif(not ALL_ML10_REGISTERED, reason="ML10 tasks not all registered")
def test_ml10_splits_hold_out_tasks():
    bench = envs.ML10()
    assert not set(bench.train_tasks) & set(bench.test_tasks)
    vec = envs.make_benchmark_vec(bench, split="test")
    assert vec.unwrapped.tasks_now == list(ML10_TEST_TASKS)


def test_mt50_and_ml45_are_meta_worlds_lists_on_our_tasks():
    mt50, ml45 = envs.MT50(), envs.ML45()
    assert len(mt50.train_tasks) == 50 and mt50.train_tasks == mt50.test_tasks
    assert set(mt50.train_tasks) <= set(envs.TASKS)
    assert len(ml45.train_tasks) == 45 and ml45.test_tasks == ("bin-picking", "box-close", "hand-insert", "door-lock", "door-unlock")
    assert set(ml45.train_tasks) | set(ml45.test_tasks) == set(mt50.train_tasks)
    assert not set(ml45.train_tasks) & set(ml45.test_tasks)
    env_dict = pytest.importorskip("metaworld.env_dict")
    assert mt50.train_tasks == tuple(name.removesuffix("-v3") for name in env_dict.MT50_V3)
    assert ml45.train_tasks == tuple(name.removesuffix("-v3") for name in env_dict.ML45_V3["train"])
    assert ml45.test_tasks == tuple(name.removesuffix("-v3") for name in env_dict.ML45_V3["test"])


def test_mt50_and_ml45_gymnasium_ids_give_one_world_per_task():
    vec = gym.make_vec("polytask/MT50")
    obs, info = vec.reset(seed=0)
    assert obs.shape == (50, envs.OBS_DIM) and sorted(info["task_id"]) == list(range(50))
    test = gym.make_vec("polytask/ML45", split="test")
    assert test.unwrapped.tasks_now == list(envs.ML45().test_tasks)
    obs, _ = test.reset(seed=0)
    assert obs.shape == (5, envs.OBS_DIM)
