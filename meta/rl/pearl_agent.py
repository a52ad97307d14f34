"""PEARL under the adapt-then-evaluate protocol: posterior sampling (Rakelly et al., 2019, Sec. 4.3, Algorithm 2).

``init()`` empties every world's context; the first adaptation episode acts
with a z drawn from the prior, and every later one with a z drawn from the
posterior over all of that world's context so far (its own transitions only:
the posterior is computed row by row); ``adapt()`` draws the z every
evaluation episode then acts with, from the posterior over every adaptation
transition. Actions while adapting are sampled (exploration is part of what
the context is for), evaluation actions are the policy's deterministic
tanh(mean), as in the authors' evaluation. Draws come from the agent's own
fixed-seed generator, so an evaluation repeats exactly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from envs.layout import ACTION_DIM
from meta.rl.context_encoder import CONTEXT_DIM, ContextEncoder, context_features
from meta.rl.pearl_sac import LatentSAC


class PEARLAgent:
    def __init__(self, encoder: ContextEncoder, sac: LatentSAC, device, seed: int = 0):
        self.encoder, self.sac, self.device = encoder, sac, torch.device(device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.init()

    def init(self) -> None:
        self.context: list[Tensor] = []  # one [N, CONTEXT_DIM] row per adaptation step
        self.z: Tensor | None = None  # drawn from the prior at the first action

    def _tensor(self, x) -> Tensor:
        return torch.as_tensor(np.asarray(x), dtype=torch.float32, device=self.device)

    @torch.no_grad()
    def _draw(self, num_worlds: int) -> None:
        context = torch.stack(self.context, dim=1) if self.context else torch.zeros(num_worlds, 0, CONTEXT_DIM, device=self.device)
        self.z = self.encoder.sample(*self.encoder.posterior(context), self.generator)

    @torch.no_grad()
    def _act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        obs = self._tensor(obs)
        if self.z is None or len(self.z) != len(obs):
            self._draw(len(obs))
        noise = torch.randn(len(obs), ACTION_DIM, generator=self.generator, device=self.device) if explore else None
        action, _, _ = self.sac.act(obs, self.z, noise)
        return action.cpu().numpy().astype(np.float64)

    def adapt_action(self, obs: np.ndarray) -> tuple[np.ndarray, dict]:
        return self._act(obs, explore=True), {"adapting": True}

    def eval_action(self, obs: np.ndarray) -> np.ndarray:
        return self._act(obs, explore=False)

    def step(self, timestep) -> None:
        if not timestep.aux_policy_outputs.get("adapting"):  # evaluation steps: the adapted z stays
            return
        self.context.append(context_features(self._tensor(timestep.observation), self._tensor(timestep.action), self._tensor(timestep.reward)))
        if (np.asarray(timestep.terminated) | np.asarray(timestep.truncated)).all():
            self._draw(len(self.context[-1]))  # the next episode samples z from the posterior over all context so far

    def adapt(self) -> None:
        if not self.context:
            raise RuntimeError("PEARLAgent.adapt() needs adaptation steps since init()")
        self._draw(len(self.context[-1]))

    def reset(self, env_mask: np.ndarray) -> None:
        """Nothing to do: after ``adapt()`` every evaluation episode keeps the z it drew."""
