"""What a recurrent meta-learner remembers of each world's trial, and RL² as a
``MetaLearningAgent`` (``envs.adaptation``) built on it.

:class:`RecurrentMemory` holds, per world, the GRU's state and the previous
action, reward and done flag that the next step reads. Training collection and
the evaluation agent share it, so that both feed the policy the same inputs:
``advance(obs)`` runs one step of every world, ``observe(...)`` records what the
step led to, ``begin_trials(mask)`` zeroes the worlds whose new trial begins.
"""

from __future__ import annotations

import numpy as np
import torch

from envs.layout import ACTION_DIM, OBS_DIM
from meta.rl.recurrent_policy import RecurrentActorCritic, policy_input


class RecurrentMemory:
    def __init__(self, net: RecurrentActorCritic, num_worlds: int, device):
        self.net, self.device = net, torch.device(device)
        self.resize(num_worlds)

    def resize(self, num_worlds: int) -> None:
        """Every world at the start of a trial."""
        self.num_worlds = num_worlds
        self.state = self.net.initial_state(num_worlds, self.device)
        self.prev_action = torch.zeros(num_worlds, ACTION_DIM, device=self.device)
        self.prev_reward = torch.zeros(num_worlds, device=self.device)
        self.prev_done = torch.zeros(num_worlds, device=self.device)

    def advance(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(the step's inputs [N, D], action means [N, A], values [N]); the state moves on."""
        inputs = policy_input(obs, self.prev_action, self.prev_reward, self.prev_done)
        mean, value, self.state = self.net.step(inputs, self.state)
        return inputs, mean, value

    def observe(self, action: torch.Tensor, reward: torch.Tensor, done: torch.Tensor) -> None:
        """The executed actions, their rewards and whether their episodes ended: read by the next step."""
        self.prev_action, self.prev_reward, self.prev_done = action.float(), reward.float(), done.float()

    def begin_trials(self, mask: torch.Tensor) -> None:
        """Zero the memory of the worlds in ``mask``: their next step begins a new trial."""
        keep = (~mask.bool()).float()
        self.state = self.state * keep[:, None]
        self.prev_action = self.prev_action * keep[:, None]
        self.prev_reward, self.prev_done = self.prev_reward * keep, self.prev_done * keep

    def state_dict(self) -> dict:
        return {"state": self.state, "prev_action": self.prev_action, "prev_reward": self.prev_reward, "prev_done": self.prev_done}

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value.to(self.device))
        self.num_worlds = len(self.state)


class RL2Agent:
    """RL² under the adapt-then-evaluate protocol, shown only what its training trials showed it.

    RL² meta-trains on trials of ``episodes_per_trial`` (E) episodes, so its GRU has learned what to do
    in a trial's first E episodes and nothing after. So: ``init()`` begins a trial in every world (a
    pre-adaptation episode is a trial's first); adaptation samples actions (exploring is part of what
    RL² learned) and begins a new trial every E episodes, as training did; ``adapt()`` replays the last
    E - 1 adaptation episodes into a fresh state, and every evaluation episode starts from that state
    (``reset`` restores it), so each is the E-th episode of a trial. It samples its actions throughout, from
    its own fixed-seed generator, so an evaluation is repeatable.
    The evaluator runs every world's episodes in step, which this agent relies on.
    """

    def __init__(self, net: RecurrentActorCritic, device, episodes_per_trial: int, seed: int = 0):
        self.net, self.device, self.episodes_per_trial = net, torch.device(device), episodes_per_trial
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.memory: RecurrentMemory | None = None
        self.init()

    def init(self) -> None:
        self.memory, self.adapted = None, None  # sized by the next observations
        self.episodes, self.episode, self.adapting = [], [], False

    def _advance(self, obs: np.ndarray) -> torch.Tensor:
        if self.memory is None or self.memory.num_worlds != len(obs):
            self.memory = RecurrentMemory(self.net, len(obs), self.device)
        inputs, mean, _ = self.memory.advance(torch.as_tensor(obs, dtype=torch.float32, device=self.device))
        if self.adapting:
            self.episode.append(inputs)
        return mean

    @torch.no_grad()
    def _sample(self, obs: np.ndarray) -> np.ndarray:
        action = self.net.sample(self._advance(obs), self.generator)
        return action.clamp(-1.0, 1.0).cpu().numpy().astype(np.float64)

    def adapt_action(self, obs: np.ndarray) -> tuple[np.ndarray, dict]:
        self.adapting = True
        return self._sample(obs), {}

    def eval_action(self, obs: np.ndarray) -> np.ndarray:
        # Sampled too: the GRU reads back its own actions, and it was trained on sampled ones; fed its mean
        # actions it drifts (ML1-reach at 2M env steps: post-adaptation success 0.1 with the mean, 0.25 sampled)
        return self._sample(obs)

    def step(self, timestep) -> None:
        done = np.asarray(timestep.terminated) | np.asarray(timestep.truncated)
        self.last = (_tensor(timestep.action, self.device), _tensor(timestep.reward, self.device), _tensor(done, self.device))
        self.memory.observe(*self.last)
        if self.adapting and done.all():
            self.episodes.append(torch.stack(self.episode, dim=1))  # [N, steps, INPUT_DIM]
            self.episode = []
            if len(self.episodes) % self.episodes_per_trial == 0:
                self.memory.begin_trials(torch.ones(self.memory.num_worlds, dtype=torch.bool, device=self.device))

    @torch.no_grad()
    def adapt(self) -> None:
        self.adapting = False
        window = self.episodes[len(self.episodes) - min(len(self.episodes), self.episodes_per_trial - 1):]
        n = self.memory.num_worlds
        state = self.net.initial_state(n, self.device)
        if window:
            inputs = torch.cat(window, dim=1).clone()
            inputs[:, 0, OBS_DIM:] = 0.0  # the window's first step begins a trial: no previous action, reward or done
            _, _, state = self.net.unroll(inputs, state)
            prev = self.last  # what the window's last step led to (kept before any restart of the trial)
        else:  # one-episode trials: RL² adapts within the episode itself
            prev = (torch.zeros_like(self.memory.prev_action), torch.zeros(n, device=self.device), torch.zeros(n, device=self.device))
        self.adapted = (state, *prev)
        self._restore(torch.ones(n, dtype=torch.bool, device=self.device))

    def _restore(self, mask: torch.Tensor) -> None:
        for name, value in zip(("state", "prev_action", "prev_reward", "prev_done"), self.adapted):
            current = getattr(self.memory, name).clone()
            current[mask] = value[mask]
            setattr(self.memory, name, current)

    def reset(self, env_mask: np.ndarray) -> None:
        if self.adapted is not None:  # every evaluation episode is the E-th of a trial
            self._restore(torch.as_tensor(np.asarray(env_mask), dtype=torch.bool, device=self.device))


def _tensor(x, device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x), dtype=torch.float32, device=device)
