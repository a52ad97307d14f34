"""The task-balanced replay buffer: balance, FIFO overwrite, terminated vs truncated, resume."""

import numpy as np
import pytest
import torch

from agents.buffer import TaskBalancedReplayBuffer

CPU = torch.device("cpu")


def add_transitions(buffer, task, values, terminated=None, truncated=None):
    """Transitions whose every field encodes (task, value) so samples can be traced back."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    code = task * 1000 + values
    buffer.add(
        obs=np.repeat(code[:, None], buffer.obs_dim, 1),
        action=np.repeat(code[:, None], buffer.action_dim, 1),
        reward=code,
        next_obs=np.repeat(code[:, None] + 0.5, buffer.obs_dim, 1),
        terminated=np.zeros(n) if terminated is None else terminated,
        truncated=np.zeros(n) if truncated is None else truncated,
        task_id=np.full(n, task),
    )


def test_every_sample_holds_the_same_count_of_every_task():
    buffer = TaskBalancedReplayBuffer(3, 200, obs_dim=5, action_dim=2, device=CPU)
    add_transitions(buffer, 0, range(150))
    add_transitions(buffer, 1, range(3))
    add_transitions(buffer, 2, [7])
    batch = buffer.sample(64, torch.Generator().manual_seed(0))
    assert batch.obs.shape == (3, 64, 5) and batch.action.shape == (3, 64, 2) and batch.reward.shape == (3, 64)
    assert torch.equal(batch.task_id, torch.arange(3).unsqueeze(1).expand(3, 64))
    task_of_sample = torch.div(batch.reward, 1000, rounding_mode="floor")
    assert torch.equal(task_of_sample, batch.task_id.float())
    assert set((batch.reward[1] - 1000).tolist()) == {0.0, 1.0, 2.0}  # all of task 1's few transitions get drawn
    assert torch.all(batch.reward[2] == 2007)
    torch.testing.assert_close(batch.next_obs[..., 0], batch.reward + 0.5)


def test_oldest_transitions_are_overwritten_per_task():
    buffer = TaskBalancedReplayBuffer(2, 4, obs_dim=1, action_dim=1, device=CPU)
    add_transitions(buffer, 0, range(6))
    add_transitions(buffer, 1, [0])
    assert buffer.size.tolist() == [4, 1] and len(buffer) == 5
    batch = buffer.sample(256, torch.Generator().manual_seed(1))
    assert set(batch.reward[0].tolist()) == {2.0, 3.0, 4.0, 5.0}


def test_several_worlds_of_one_task_in_one_call():
    buffer = TaskBalancedReplayBuffer(2, 10, obs_dim=1, action_dim=1, device=CPU)
    buffer.add(obs=[[1.0], [2.0], [3.0]], action=[[0.0]] * 3, reward=[1.0, 2.0, 3.0], next_obs=[[0.0]] * 3,
               terminated=[0, 0, 0], truncated=[0, 0, 0], task_id=[0, 1, 0])
    assert buffer.size.tolist() == [2, 1]
    assert buffer.storage["reward"][0, :2].tolist() == [1.0, 3.0]


def test_terminated_and_truncated_are_kept_apart():
    buffer = TaskBalancedReplayBuffer(1, 10, obs_dim=2, action_dim=1, device=CPU)
    add_transitions(buffer, 0, [0, 1, 2], terminated=np.array([1.0, 0.0, 0.0]), truncated=np.array([0.0, 1.0, 0.0]))
    batch = buffer.sample(128, torch.Generator().manual_seed(2))
    value = batch.reward[0]
    torch.testing.assert_close(batch.terminated[0], (value == 0).float())
    torch.testing.assert_close(batch.truncated[0], (value == 1).float())


def test_bad_input_and_empty_tasks_raise_clear_errors():
    buffer = TaskBalancedReplayBuffer(2, 10, obs_dim=3, action_dim=2, device=CPU)
    add_transitions(buffer, 0, [0])
    with pytest.raises(RuntimeError, match=r"tasks \[1\] have no transitions"):
        buffer.sample(4, torch.Generator())
    with pytest.raises(ValueError, match=r"obs must have shape \(1, 3\)"):
        buffer.add(obs=np.zeros((1, 4)), action=np.zeros((1, 2)), reward=[0.0], next_obs=np.zeros((1, 3)), terminated=[0], truncated=[0], task_id=[1])
    with pytest.raises(ValueError, match=r"task ids must lie in \[0, 2\)"):
        add_transitions(buffer, 2, [0])
    with pytest.raises(ValueError, match="per_task_batch"):
        buffer.sample(0, torch.Generator())


def test_state_round_trip_samples_identically():
    buffer = TaskBalancedReplayBuffer(2, 8, obs_dim=2, action_dim=1, device=CPU)
    add_transitions(buffer, 0, range(11))
    add_transitions(buffer, 1, range(3))
    restored = TaskBalancedReplayBuffer(2, 8, obs_dim=2, action_dim=1, device=CPU)
    restored.load_state_dict(buffer.state_dict())
    for target in (buffer, restored):
        add_transitions(target, 1, [50, 51])
    a = buffer.sample(32, torch.Generator().manual_seed(5))
    b = restored.sample(32, torch.Generator().manual_seed(5))
    for field_a, field_b in zip(a, b):
        assert torch.equal(field_a, field_b)
    with pytest.raises(ValueError, match="this buffer has 3 tasks"):
        TaskBalancedReplayBuffer(3, 8, obs_dim=2, action_dim=1, device=CPU).load_state_dict(buffer.state_dict())
