"""ARM-CML beyond images: adapting a learned dynamics model to a held-out dynamics group.

A group is one setting of ``envs.DynamicsVariation`` (the object's friction
and mass scales) on one of our tasks: sweep by default, where how far the
cube slides under and after the gripper's push depends on both.  Episodes
come from the task's scripted expert with Gaussian action noise; the model
predicts the object's displacement ``horizon`` steps ahead (centimetres) from
the hand, gripper and object positions, the previous frame's (so velocities
are implicit) and the actions in between.  One step ahead the scales hardly
matter (on sweep, push and door-open even the true scales, given as input,
did not lower the one-step error); ten steps ahead the oracle's training
error is a fifth lower than the non-adaptive model's.

Three models, trained on the same batches, evaluated on held-out groups
whose scales lie between the training grid's (``between_scales``) and beyond
it (``beyond_scales``):

* ``erm``: an MLP of the input alone (non-adaptive);
* ``arm-cml``: ARM-CML's recipe (Zhang et al., NeurIPS 2021, Sec. 4.1) with
  the batch as context: an encoder maps each of ``context`` transitions of
  the same group (input and observed displacement, without the group's
  scales) to a vector, their mean is concatenated to every input;
* ``oracle``: the MLP given the true log-scales: the reference for what
  knowing the dynamics is worth.

Training batches hold ``meta_batch`` groups, each with ``context`` context
and ``query`` query transitions; the loss is the query MSE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from agents.networks import mlp
from envs import DynamicsVariation, layout, scripted_policy
from envs.registry import get_task

__all__ = ["DynamicsShiftConfig", "DynamicsGroups", "collect_groups", "train_dynamics_model", "MODELS"]

MODELS = ("erm", "arm-cml", "oracle")


@dataclass(frozen=True)
class DynamicsShiftConfig:
    """The dynamics-group experiment: which groups, how much data, the models' sizes and training."""

    task: str = "sweep"
    """the task whose object's dynamics vary"""
    train_scales: tuple[tuple[float, float], ...] = tuple((f, m) for f in (0.3, 1.0, 3.0) for m in (0.3, 1.0, 3.0))
    """(friction, mass) scales of the training groups"""
    between_scales: tuple[tuple[float, float], ...] = tuple((f, m) for f in (0.55, 1.7) for m in (0.55, 1.7))
    """held-out (friction, mass) scales inside the training grid's range"""
    beyond_scales: tuple[tuple[float, float], ...] = tuple((f, m) for f in (0.15, 6.0) for m in (0.15, 6.0))
    """held-out (friction, mass) scales outside it"""
    episodes: int = 16
    """episodes per group"""
    episode_steps: int = 150
    """steps per episode"""
    action_noise: float = 0.5
    """std of the Gaussian noise on the expert's actions (varied contacts)"""
    horizon: int = 10
    """steps ahead the model predicts (given the actions in between): friction's effect grows with it"""
    context: int = 64
    """transitions of a group that ARM-CML's context is the mean over"""
    query: int = 32
    """transitions of the same group whose displacement is predicted (the loss)"""
    meta_batch: int = 8
    """groups per update"""
    updates: int = 3000
    """Adam updates"""
    lr: float = 1e-3
    """Adam learning rate"""
    hidden: int = 128
    """width of the MLPs' two hidden layers"""
    context_size: int = 32
    """size of ARM-CML's context vector"""


@dataclass
class DynamicsGroups:
    """Per group: inputs (N, 17), targets (N, 3), and the group's (friction, mass) scales."""

    inputs: list[np.ndarray]
    targets: list[np.ndarray]
    scales: list[tuple[float, float]]


def collect_groups(config: DynamicsShiftConfig, scales, seed: int) -> DynamicsGroups:
    """Every group's (input, target) pairs: the state at step t with the actions of steps t .. t+H-1, and
    the object's displacement from t to t+H (cm), for every window of ``horizon`` steps of every episode."""
    task, expert = get_task(config.task), scripted_policy(config.task)
    groups = DynamicsGroups([], [], [])
    horizon = config.horizon
    for g, (friction, mass) in enumerate(scales):
        env = task(dynamics=DynamicsVariation(friction_scale=(friction, friction), mass_scale=(mass, mass)))
        rng = np.random.default_rng([seed, g])
        inputs, targets = [], []
        for _ in range(config.episodes):
            obs, _ = env.reset(seed=int(rng.integers(2**31)))
            states, actions, objects = [], [], [obs[layout.OBJ1]]
            for _ in range(config.episode_steps):
                action = np.clip(expert(obs) + rng.normal(0, config.action_noise, 4), -1, 1)
                previous = obs[layout.PREVIOUS]
                states.append(np.concatenate([obs[layout.HAND], obs[[layout.GRIPPER]], obs[layout.OBJ1],
                                              previous[layout.HAND], previous[layout.OBJ1]]))
                actions.append(action)
                obs = env.step(action)[0]
                objects.append(obs[layout.OBJ1])
            for t in range(config.episode_steps - horizon + 1):
                inputs.append(np.concatenate([states[t], *actions[t : t + horizon]]))
                targets.append(100 * (objects[t + horizon] - objects[t]))
        env.close()
        groups.inputs.append(np.asarray(inputs, np.float32))
        groups.targets.append(np.asarray(targets, np.float32))
        groups.scales.append((friction, mass))
    return groups


class DynamicsModel(nn.Module):
    """Predicts (groups, query, 3) from query inputs, and for ``arm-cml``/``oracle`` what each adapts with."""

    def __init__(self, kind: str, inputs: int, config: DynamicsShiftConfig) -> None:
        super().__init__()
        if kind not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {kind!r}")
        self.kind = kind
        extra = {"erm": 0, "arm-cml": config.context_size, "oracle": 2}[kind]
        self.predictor = mlp(inputs + extra, (config.hidden, config.hidden), 3)
        if kind == "arm-cml":
            self.encoder = mlp(inputs + 3, (config.hidden,), config.context_size)

    def forward(self, query: Tensor, context_in: Tensor, context_out: Tensor, log_scales: Tensor) -> Tensor:
        if self.kind == "erm":
            extra = query[..., :0]
        elif self.kind == "oracle":
            extra = log_scales[:, None, :].expand(-1, query.shape[1], -1)
        else:  # the mean over the context: permutation invariant, any context size
            summary = self.encoder(torch.cat([context_in, context_out], dim=-1)).mean(dim=1)
            extra = summary[:, None, :].expand(-1, query.shape[1], -1)
        return self.predictor(torch.cat([query, extra], dim=-1))


class _Batches:
    """Group-wise (context, query) draws from normalized tensors."""

    def __init__(self, groups: DynamicsGroups, mean: np.ndarray, std: np.ndarray) -> None:
        self.inputs = [torch.from_numpy((x - mean) / std) for x in groups.inputs]
        self.targets = [torch.from_numpy(y) for y in groups.targets]
        self.log_scales = torch.log(torch.tensor(groups.scales, dtype=torch.float32))

    def draw(self, groups: np.ndarray, context: int, query: int, rng: np.random.Generator):
        parts = [[], [], [], []]
        for g in groups:
            pick = rng.choice(len(self.inputs[g]), context + query, replace=False)
            x, y = self.inputs[g][pick], self.targets[g][pick]
            for part, value in zip(parts, (x[:context], y[:context], x[context:], y[context:])):
                part.append(value)
        context_in, context_out, query_in, query_out = (torch.stack(p) for p in parts)
        return query_in, query_out, context_in, context_out, self.log_scales[groups]


def train_dynamics_model(kind: str, train: DynamicsGroups, held_out: dict[str, DynamicsGroups],
                         config: DynamicsShiftConfig, seed: int, eval_draws: int = 40) -> dict[str, float]:
    """Train one model; its query MSE (cm^2) on the training groups, and mean and worst-group MSE on
    each held-out set of groups."""
    all_inputs = np.concatenate(train.inputs)
    mean, std = all_inputs.mean(axis=0), all_inputs.std(axis=0) + 1e-6
    train_batches = _Batches(train, mean, std)
    torch.manual_seed(seed)
    model = DynamicsModel(kind, all_inputs.shape[1], config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    rng = np.random.default_rng([seed, 1])
    for _ in range(config.updates):
        groups = rng.integers(0, len(train.inputs), config.meta_batch)
        query_in, query_out, *adapt_with = train_batches.draw(groups, config.context, config.query, rng)
        loss = ((model(query_in, *adapt_with) - query_out) ** 2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def mse(batches: _Batches, count: int) -> tuple[float, float]:
        eval_rng = np.random.default_rng([seed, 2])  # the same draws for every model of this seed
        errors = []
        with torch.no_grad():
            for _ in range(eval_draws):
                groups = np.arange(count)
                query_in, query_out, *adapt_with = batches.draw(groups, config.context, config.query, eval_rng)
                errors.append(((model(query_in, *adapt_with) - query_out) ** 2).mean(dim=(1, 2)))
        per_group = torch.stack(errors).mean(dim=0)
        return float(per_group.mean()), float(per_group.max())

    result = {"train_mse": mse(train_batches, len(train.inputs))[0]}
    for name, groups in held_out.items():
        result[f"{name}_mse"], result[f"{name}_worst_group_mse"] = mse(_Batches(groups, mean, std), len(groups.inputs))
    return result
