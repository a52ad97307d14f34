"""Task-specific behaviour of the object tasks (push, pick-place, sweep-into, shelf-place).

The registry-wide contract lives in test_env_contract.py; these tests pin what
that file cannot see: goals sit where the fixtures are, the pick-and-place
reward pays for lifting only, and the scripted grasp recovers from a slip.
"""

import numpy as np
import pytest

import envs


def test_shelf_goal_rests_on_the_middle_level_and_the_shelf_moves():
    env = envs.get_task("shelf-place")()
    shelves = []
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        level = env.site_pos("shelf/level")
        np.testing.assert_allclose(obs[36:39], level + [0.0, 0.0, 0.02], atol=1e-9)
        shelves.append(level)
    assert len({tuple(np.round(s, 6)) for s in shelves}) == 3


def test_sweep_goal_is_the_zone_centre_and_the_zone_moves():
    env = envs.get_task("sweep-into")()
    zones = []
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        centre = env.site_pos("target_zone/center")
        np.testing.assert_allclose(obs[36:38], centre[:2], atol=1e-9)
        assert np.linalg.norm(obs[4:6] - centre[:2]) >= 0.15, "block must start outside the zone"
        zones.append(centre)
    assert len({tuple(np.round(z, 6)) for z in zones}) == 3


@pytest.mark.parametrize("task", ["pick-place", "shelf-place"])
def test_place_reward_pays_for_lifting_not_for_sliding(task):
    env = envs.get_task(task)()
    init, _ = env.reset(seed=0)
    goal = init[36:39]
    halfway = (init[4:7] + goal) / 2
    slid = init.copy()
    slid[4:6] = halfway[:2]  # the object slid along the table, the hand on it
    slid[0:3] = slid[4:7]
    lifted = slid.copy()
    lifted[4:7] = halfway
    lifted[0:3] = halfway
    action = np.array([0.0, 0.0, 0.0, 1.0])
    slid_reward, _ = env.evaluate(slid, action)
    lifted_reward, lifted_info = env.evaluate(lifted, action)
    assert slid_reward <= 2.0 + 1e-9
    assert lifted_reward > slid_reward + 1.0
    assert lifted_info["near_object"] == 1.0


@pytest.mark.parametrize("task, joint", [("pick-place", "puck/puck"), ("shelf-place", "block/block")])
def test_expert_grasps_again_after_the_object_slips(task, joint):
    env = envs.get_task(task)()
    obs, _ = env.reset(options={"variation": 0})
    for _ in range(42):  # by now the expert holds the object in the air
        obs, *_ = env.step(env.expert(obs))
    assert obs[6] > 0.03 and obs[3] < 0.5, "the expert should be carrying the object"
    env.set_free_pose(joint, [obs[4] + 0.08, obs[5] - 0.05, 0.02])
    succeeded = False
    for _ in range(200):
        obs, _, _, _, info = env.step(env.expert(obs))
        succeeded |= bool(info["success"])
    assert succeeded
