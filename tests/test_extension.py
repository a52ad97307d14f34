"""A task defined outside the package registers and runs like a built-in one.

This is the path the README shows: subclass ``PolytaskEnv`` with ``build``,
``reset_task``, ``evaluate`` and ``expert``, then call ``register_task``.
"""

import gymnasium as gym
import numpy as np
import pytest

import envs
from envs import world
from envs.rewards import tolerance


class LiftPuckHigh(envs.PolytaskEnv):
    """Touch the top of a puck, then raise the hand 15 cm above it."""

    name = "test-touch-puck"
    object_sites = ("puck/puck",)
    success_description = "hand within 3 cm of the point 15 cm above the puck"

    @classmethod
    def build(cls, spec):
        world.attach(spec, "puck", "puck/")

    def reset_task(self, rng):
        x, y = rng.uniform([-0.2, 0.55], [0.2, 0.75])
        self.set_free_pose("puck/puck", [x, y, 0.02])
        self.goal = np.array([x, y, 0.17])

    def evaluate(self, obs, action):
        distance = np.linalg.norm(obs[..., 0:3] - obs[..., 36:39], axis=-1)
        reward = 10.0 * tolerance(distance, (0.0, 0.03), margin=0.5)
        success = distance < 0.03
        terms = {key: np.zeros_like(distance) for key in envs.INFO_KEYS}
        terms.update(success=success.astype(float), obj_to_target=distance, in_place_reward=reward / 10)
        return reward, terms

    @staticmethod
    def expert(obs):
        delta = np.clip(20.0 * (obs[36:39] - obs[0:3]), -1, 1)
        return np.append(delta, -1.0)


@pytest.fixture(scope="module")
def registered():
    envs.register_task(LiftPuckHigh)
    yield LiftPuckHigh.name
    envs.TASKS.pop(LiftPuckHigh.name)
    gym.registry.pop(f"polytask/{LiftPuckHigh.name}-v0", None)


def test_outside_task_runs_under_gymnasium_make(registered):
    env = gym.make(f"polytask/{registered}-v0")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (envs.OBS_DIM,)
    policy = envs.scripted_policy(registered)
    success = False
    for _ in range(200):
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        success |= bool(info["success"])
    assert success


def test_outside_task_in_a_benchmark_vector_env(registered):
    bench = envs.Benchmark("custom", (registered, "reach"), (registered,))
    vec = envs.make_benchmark_vec(bench)
    obs, info = vec.reset(seed=1)
    assert obs.shape == (2, envs.OBS_DIM)
    policy = envs.scripted_policy(registered)
    successes = np.zeros(2, dtype=bool)
    for _ in range(200):
        actions = np.stack([policy(obs[0]), envs.scripted_policy("reach")(obs[1])])
        obs, reward, terminated, truncated, info = vec.step(actions)
        successes |= info["success"].astype(bool)
    assert successes.all()


def test_registration_is_validated():
    class Nameless(LiftPuckHigh):
        name = ""

    with pytest.raises(ValueError, match="non-empty name"):
        envs.register_task(Nameless)

    class Incomplete(envs.PolytaskEnv):
        name = "incomplete"

    with pytest.raises(TypeError, match="must implement"):
        envs.register_task(Incomplete)
    with pytest.raises(ValueError, match="already registered"):

        class Clash(LiftPuckHigh):
            name = "reach"

        envs.register_task(Clash)
