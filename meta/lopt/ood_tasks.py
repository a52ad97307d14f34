"""The out-of-distribution tasks: what a learned optimizer meta-trained on small MLPs never saw.

VeLO's own limits (section 6) are the reason for each: much wider and deeper
networks than its training family, architectures it never saw (a convnet,
a small transformer), and reinforcement learning, where it did much worse
than Adam; here that last one is a critic of SAC regressing onto TD targets
from transitions of our own suite.

- ``wide``: an MLP of 2 x 256 on digits; ``deep``: 4 x 64 (tanh) on digits;
- ``conv``: two 3x3 convolutions (16, 32 channels, the second strided), a
  global mean pool and a linear head on the 8x8 digits;
- ``sequence``: one pre-norm attention block (width 32, single head) and a
  mean-pooled linear head that must tell the largest of 8 tokens (vocabulary
  16), on sequences generated from a seed;
- ``critic``: SAC's critic loss on 4,000 transitions of ``reach`` (its
  scripted expert with Gaussian action noise): Q(s, a) (an MLP of 2 x 256 on
  observation and action) regressed onto ``r + 0.99 Q_target(s', expert(s'))``
  with the target network frozen at the critic's initialisation, one
  target-network phase of SAC.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from meta.lopt.tasks import FunctionalTask, Task, TaskConfig, dataset_arrays, scaled_normal

__all__ = ["OOD_TASKS", "ood_task", "OODConfig"]

OOD_TASKS = ("wide", "deep", "conv", "sequence", "critic")


@dataclass(frozen=True)
class OODConfig:
    kind: str
    seed: int = 2_000_000
    batch_size: int = 64

    def __str__(self) -> str:
        return {"conv": "conv digits 16-32 channels", "sequence": "transformer block, largest of 8 tokens",
                "critic": "SAC critic on reach transitions (2 x 256)"}[self.kind]


def ood_task(kind: str, device: torch.device | str = "cpu") -> FunctionalTask:
    if kind not in OOD_TASKS:
        raise ValueError(f"unknown out-of-distribution task {kind!r}; known: {', '.join(OOD_TASKS)}")
    if kind == "wide":
        return Task(TaskConfig("digits", (256, 256), "relu", 1.0, 64, seed=2_000_001), device)
    if kind == "deep":
        return Task(TaskConfig("digits", (64, 64, 64, 64), "tanh", 1.0, 64, seed=2_000_002), device)
    return {"conv": ConvTask, "sequence": SequenceTask, "critic": CriticTask}[kind](OODConfig(kind), device)


class _DataTask(FunctionalTask):
    def __init__(self, config: OODConfig, inputs: np.ndarray, targets: np.ndarray, classes: int, device) -> None:
        self.config, self.device = config, torch.device(device)
        self.batch_size, self.seed, self.classes = config.batch_size, config.seed, classes
        self.inputs, self.targets = torch.from_numpy(inputs).to(self.device), torch.from_numpy(targets).to(self.device)

    def _generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed)

    def _linear(self, fan_in: int, fan_out: int, generator) -> list[Tensor]:
        return [scaled_normal((fan_in, fan_out), fan_in, 1.0, generator).to(self.device),
                torch.zeros(fan_out, device=self.device)]


class ConvTask(_DataTask):
    def __init__(self, config: OODConfig, device="cpu") -> None:
        inputs, targets = dataset_arrays("digits")
        super().__init__(config, inputs.reshape(-1, 1, 8, 8), targets, 10, device)

    def init_params(self) -> list[Tensor]:
        generator = self._generator()
        conv1 = scaled_normal((16, 1, 3, 3), 9, 1.0, generator)
        conv2 = scaled_normal((32, 16, 3, 3), 16 * 9, 1.0, generator)
        return [conv1.to(self.device), torch.zeros(16, device=self.device), conv2.to(self.device),
                torch.zeros(32, device=self.device), *self._linear(32, 10, generator)]

    def forward(self, params, inputs):
        out = torch.relu(F.conv2d(inputs, params[0], params[1], padding=1))
        out = torch.relu(F.conv2d(out, params[2], params[3], stride=2, padding=1))
        return out.mean((2, 3)) @ params[4] + params[5]


class SequenceTask(_DataTask):
    VOCAB, LENGTH, WIDTH = 16, 8, 32

    def __init__(self, config: OODConfig, device="cpu") -> None:
        rng = np.random.default_rng(config.seed)
        tokens = rng.integers(self.VOCAB, size=(2000, self.LENGTH))
        super().__init__(config, tokens.astype(np.int64), tokens.max(1).astype(np.int64), self.VOCAB, device)

    def init_params(self) -> list[Tensor]:
        generator, width = self._generator(), self.WIDTH
        embedding = torch.randn(self.VOCAB, width, generator=generator) * 0.5
        position = torch.randn(self.LENGTH, width, generator=generator) * 0.5
        params = [embedding.to(self.device), position.to(self.device)]
        for _ in range(3):  # query, key, value
            params.append(scaled_normal((width, width), width, 1.0, generator).to(self.device))
        params += self._linear(width, 2 * width, generator) + self._linear(2 * width, width, generator)
        return params + self._linear(width, self.VOCAB, generator)

    def forward(self, params, tokens):
        embedding, position, query, key, value = params[:5]
        x = embedding[tokens] + position
        h = F.layer_norm(x, (self.WIDTH,))
        attention = torch.softmax((h @ query) @ (h @ key).transpose(-1, -2) / self.WIDTH**0.5, dim=-1)
        x = x + attention @ (h @ value)
        h = F.layer_norm(x, (self.WIDTH,))
        x = x + torch.relu(h @ params[5] + params[6]) @ params[7] + params[8]
        return x.mean(1) @ params[9] + params[10]


@functools.lru_cache(maxsize=None)
def reach_transitions(count: int = 4000, seed: int = 0) -> tuple[np.ndarray, ...]:
    """(observations, actions, rewards, next observations, expert's next actions) of the noisy reach expert."""
    from envs.registry import make, scripted_policy

    env, expert, rng = make("reach"), scripted_policy("reach"), np.random.default_rng(seed)
    rows: list[tuple] = []
    obs, _ = env.reset(seed=seed)
    while len(rows) < count:
        action = np.clip(expert(obs) + rng.normal(scale=0.3, size=4), -1, 1).astype(np.float32)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        rows.append((obs, action, reward, next_obs, np.clip(expert(next_obs), -1, 1)))
        obs = env.reset(seed=int(rng.integers(2**31)))[0] if terminated or truncated else next_obs
    env.close()
    return tuple(np.asarray(column, dtype=np.float32) for column in zip(*rows))


class CriticTask(_DataTask):
    GAMMA, HIDDEN = 0.99, 256

    def __init__(self, config: OODConfig, device="cpu") -> None:
        obs, actions, rewards, next_obs, next_actions = reach_transitions()
        inputs = np.concatenate([obs, actions], axis=1)
        super().__init__(config, inputs, np.zeros((len(obs), 1), np.float32), 0, device)
        with torch.no_grad():  # the target network is the critic's initialisation, frozen
            next_inputs = torch.from_numpy(np.concatenate([next_obs, next_actions], axis=1)).to(self.device)
            target_q = self.forward(self.init_params(), next_inputs)
            self.targets = torch.from_numpy(rewards[:, None]).to(self.device) + self.GAMMA * target_q

    def init_params(self) -> list[Tensor]:
        generator, sizes = self._generator(), (self.inputs.shape[1], self.HIDDEN, self.HIDDEN, 1)
        return [t for fan_in, fan_out in zip(sizes[:-1], sizes[1:]) for t in self._linear(fan_in, fan_out, generator)]

    def forward(self, params, inputs):
        out = torch.relu(inputs @ params[0] + params[1])
        out = torch.relu(out @ params[2] + params[3])
        return out @ params[4] + params[5]
