"""RL²'s policy: a GRU over (observation, previous action, reward, done flag) with
a Gaussian action head and a value head (Duan et al., 2016, Sec. 2.2 and Fig. 1).

The recurrent state is the agent's memory of the trial: it is carried across the
episodes of a trial and zeroed when a new trial begins. One ``step`` advances
every world's state at once; ``unroll`` replays a batch of sequences from saved
start states (truncated backpropagation through time in the update).
"""

from __future__ import annotations

import torch
from torch import nn

from envs.layout import ACTION_DIM, OBS_DIM

#: what the GRU reads at each step: the observation, the previous action, its reward and whether its episode ended
INPUT_DIM = OBS_DIM + ACTION_DIM + 2


def policy_input(obs: torch.Tensor, prev_action: torch.Tensor, prev_reward: torch.Tensor, prev_done: torch.Tensor) -> torch.Tensor:
    """[..., INPUT_DIM]; the reward is scaled by 1/10 (rewards lie in [0, 10]) to keep the inputs near unit size."""
    return torch.cat([obs, prev_action, prev_reward.unsqueeze(-1) / 10.0, prev_done.unsqueeze(-1)], dim=-1)


class RecurrentActorCritic(nn.Module):
    def __init__(self, hidden_size: int = 256, init_log_std: float = 0.0):
        super().__init__()
        self.hidden_size = hidden_size
        self.gru = nn.GRU(INPUT_DIM, hidden_size, batch_first=True)
        self.mean = nn.Linear(hidden_size, ACTION_DIM)
        self.value = nn.Linear(hidden_size, 1)
        # state-independent exploration noise, as in garage's and Meta-World's RL² policies
        self.log_std = nn.Parameter(torch.full((ACTION_DIM,), float(init_log_std)))
        nn.init.orthogonal_(self.mean.weight, gain=0.01)  # near-zero initial actions: PPO's usual start
        nn.init.zeros_(self.mean.bias)

    def initial_state(self, batch: int, device) -> torch.Tensor:
        return torch.zeros(batch, self.hidden_size, device=device)

    def unroll(self, inputs: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """inputs [B, L, INPUT_DIM], start states [B, H] -> (action means [B, L, A], values [B, L], end states [B, H])."""
        features, end = self.gru(inputs, state.unsqueeze(0).contiguous())
        return self.mean(features), self.value(features).squeeze(-1), end.squeeze(0)

    def step(self, inputs: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One step of every world: inputs [N, INPUT_DIM], states [N, H] -> (means [N, A], values [N], states [N, H])."""
        mean, value, state = self.unroll(inputs.unsqueeze(1), state)
        return mean.squeeze(1), value.squeeze(1), state

    def sample(self, mean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """An action drawn around ``mean`` with the policy's noise, from ``generator`` (unclipped)."""
        return mean + self.log_std.exp() * torch.randn(mean.shape, generator=generator, device=mean.device)

    def distribution(self, mean: torch.Tensor) -> torch.distributions.Normal:
        return torch.distributions.Normal(mean, self.log_std.exp().expand_as(mean))
