"""The shared collector: task ids read from the env at every step (worlds may
change task at reset), finished worlds reset in the same step, per-task
episode statistics, and a state that resumes collection exactly."""

import copy

import numpy as np
import pytest

import envs
from agents.collector import Collector
from envs.batched import BatchedVectorEnv
from envs.vector import BenchmarkVectorEnv

TASKS = ("reach", "push", "drawer-close")
BENCH = envs.Benchmark("three", TASKS, TASKS)
EPISODE = envs.MAX_EPISODE_STEPS


def rotate_tasks(collector: Collector):
    """A meta-learner's task sampler: every finished world moves on to the next task, variation 3."""

    def next_episode(done: np.ndarray) -> dict:
        tasks = [TASKS[(int(collector.task_ids[i]) + 1) % len(TASKS)] if done[i] else None for i in range(len(done))]
        return {"task": tasks, "variation": [3 if d else None for d in done]}

    return next_episode


@pytest.mark.parametrize("vector_class", [BatchedVectorEnv, BenchmarkVectorEnv])
def test_worlds_change_task_at_reset_and_transitions_carry_the_task_they_ran(vector_class):
    env = vector_class(BENCH, num_envs=3)
    collector = Collector(env, TASKS, seed=0)
    collector.next_episode = rotate_tasks(collector)
    rng = np.random.default_rng(0)
    assert list(collector.task_ids) == [0, 1, 2]
    seen = []
    for step in range(2 * EPISODE + 3):
        transitions = collector.step(rng.uniform(-1, 1, (3, 4)))
        assert (transitions.truncated.all()) == ((step + 1) % EPISODE == 0)
        seen.append(transitions.task_id.copy())
        if transitions.truncated.all():
            # the last transition of an episode still names its task; the new episode runs the next one
            assert list(collector.task_ids) == list((transitions.task_id + 1) % 3)
            assert env.tasks_now == [TASKS[t] for t in collector.task_ids]
            np.testing.assert_array_equal(collector.obs[:, :18], collector.obs[:, 18:36])  # fresh episodes
    seen = np.array(seen)
    assert (seen[:EPISODE] == [0, 1, 2]).all() and (seen[EPISODE : 2 * EPISODE] == [1, 2, 0]).all() and (seen[-1] == [2, 0, 1]).all()
    assert collector.env_steps == 3 * (2 * EPISODE + 3), "every step is a real transition of every world"


def test_per_task_episode_statistics_follow_the_task_each_episode_ran():
    env = BatchedVectorEnv(BENCH, num_envs=3)
    collector = Collector(env, TASKS, seed=1)
    collector.next_episode = rotate_tasks(collector)
    experts = [envs.scripted_policy(t) for t in TASKS]
    policy = lambda obs, ids: np.stack([experts[t](o) for o, t in zip(obs, ids)])  # noqa: E731
    for _ in range(EPISODE):
        collector.collect(policy)
    metrics = collector.pop_metrics()
    assert metrics["charts/reach/episode_success"] == 1.0 and metrics["charts/reach/episode_length"] == EPISODE
    assert {f"charts/{t}/episode_return" for t in TASKS} <= set(metrics)
    assert metrics["charts/episode_success"] == pytest.approx(np.mean([metrics[f"charts/{t}/episode_success"] for t in TASKS]))
    assert collector.pop_metrics() == {}, "metrics are of the episodes finished since the last pop"
    finished = collector.last_finished
    assert [e.task_id for e in finished] == [0, 1, 2] and all(e.length == EPISODE for e in finished)


def test_state_round_trip_continues_collection_exactly():
    rng = np.random.default_rng(2)
    actions = rng.uniform(-1, 1, (EPISODE + 40, 3, 4))

    def run(collector, steps):
        return [collector.step(a) for a in steps]

    straight = Collector(BatchedVectorEnv(BENCH, num_envs=3), TASKS, seed=5)
    run(straight, actions[:EPISODE - 10])
    state = copy.deepcopy(straight.state_dict())
    expected = run(straight, actions[EPISODE - 10 :])
    resumed = Collector(BatchedVectorEnv(BENCH, num_envs=3), TASKS, seed=77)
    resumed.load_state_dict(state)
    got = run(resumed, actions[EPISODE - 10 :])
    for a, b in zip(expected, got):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert straight.pop_metrics() == resumed.pop_metrics() != {}
    with pytest.raises(ValueError, match="holds 3 worlds"):
        Collector(BatchedVectorEnv(BENCH, num_envs=6), TASKS, seed=0).load_state_dict(state)


def test_an_env_without_task_ids_is_refused():
    env = envs.make_benchmark_vec("MT1", task="reach")

    class NoTaskIds(type(env)):
        def reset(self, **kwargs):
            obs, info = super().reset(**kwargs)
            info.pop("task_id", None)
            return obs, info

    env.__class__ = NoTaskIds
    with pytest.raises(ValueError, match="task_id"):
        Collector(env, ("reach",), seed=0)
