"""The tasks learned optimizers are meta-trained and tested on: small networks on small data, sampled from a seed.

A task is a functional model (parameters as a list of tensors, a pure
``loss(params, inputs, targets)``) on a dataset held in memory, so ES can
``vmap`` one task over many perturbed optimizers, each with its own copy of
the parameters, all reading the same minibatches.

The in-distribution family (``sample_task``): MLPs of 1-2 hidden layers of
16-64 units, ReLU, tanh or GELU, initialisation scaled by 0.5-2x fan-in,
batches of 32-128, on one of three datasets: scikit-learn's bundled digits
(1,797 8x8 images, 10 classes), a seeded Gaussian-mixture classification
(10 classes in 32 dimensions) and a seeded regression on a random teacher
network.  ``held_out_tasks`` draws the meta-test tasks from the same family
under seeds meta-training never uses.  Nothing is downloaded.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["TaskConfig", "FunctionalTask", "Task", "scaled_normal", "dataset_arrays", "sample_task", "held_out_tasks", "DATASETS", "ACTIVATIONS"]

DATASETS = ("digits", "blobs", "teacher")
ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "gelu": F.gelu}
#: task seeds at or above this are meta-test tasks; meta-training samples below it
HELD_OUT_SEEDS = 1_000_000


@dataclass(frozen=True)
class TaskConfig:
    dataset: str = "digits"
    hidden: tuple[int, ...] = (32,)
    activation: str = "relu"
    init_scale: float = 1.0
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; known: {', '.join(DATASETS)}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; known: {', '.join(ACTIVATIONS)}")
        if not self.hidden or min(self.hidden) < 1 or self.batch_size < 1 or not self.init_scale > 0:
            raise ValueError(f"a task needs hidden layers of positive width, a positive batch and init scale: {self}")

    def __str__(self) -> str:
        return (f"{self.dataset} mlp {'x'.join(map(str, self.hidden))} {self.activation} init {self.init_scale:.2f} "
                f"batch {self.batch_size}")


@functools.lru_cache(maxsize=None)
def dataset_arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(inputs [N, D] float32 standardised, targets [N] int64 classes or [N, 1] float32)."""
    rng = np.random.default_rng(12345)  # the synthetic datasets are fixed; tasks vary in model, init and batches
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        inputs, targets = digits.data.astype(np.float32) / 16.0, digits.target.astype(np.int64)
    elif name == "blobs":
        centres = rng.normal(size=(10, 32)) * 0.3  # overlapping classes: a loss floor above zero
        targets = rng.integers(10, size=2000)
        inputs = (centres[targets] + rng.normal(size=(2000, 32))).astype(np.float32)
    else:
        teacher_in, teacher_out = rng.normal(size=(16, 32)) / 4, rng.normal(size=(32, 1)) / math.sqrt(32)
        inputs = rng.normal(size=(2000, 16)).astype(np.float32)
        targets = (np.tanh(inputs @ teacher_in) @ teacher_out + 0.05 * rng.normal(size=(2000, 1))).astype(np.float32)
    inputs = (inputs - inputs.mean(0)) / (inputs.std(0) + 1e-6)
    return inputs.astype(np.float32), targets


class FunctionalTask:
    """A model as a pure function of its parameter list on a dataset in memory; subclasses give ``init_params`` and ``forward``.

    ``classes`` > 0: cross-entropy over that many classes; 0: mean squared error."""

    config: object
    inputs: Tensor
    targets: Tensor
    classes: int
    batch_size: int
    seed: int

    @property
    def name(self) -> str:
        return str(self.config)

    def init_params(self) -> list[Tensor]:
        raise NotImplementedError

    def forward(self, params: list[Tensor], inputs: Tensor) -> Tensor:
        raise NotImplementedError

    def loss(self, params: list[Tensor], inputs: Tensor, targets: Tensor) -> Tensor:
        out = self.forward(params, inputs)
        return F.cross_entropy(out, targets) if self.classes else F.mse_loss(out, targets)

    def batch(self, step: int) -> tuple[Tensor, Tensor]:
        """The minibatch of step ``step``: a function of the task seed and the step alone (common to every optimizer)."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        index = torch.randint(len(self.inputs), (self.batch_size,), generator=generator).to(self.inputs.device)
        return self.inputs[index], self.targets[index]

    def full_loss(self, params: list[Tensor]) -> Tensor:
        """The loss over the whole training set (the number optimizers are compared on)."""
        return self.loss(params, self.inputs, self.targets)


def scaled_normal(shape: tuple[int, ...], fan_in: int, scale: float, generator: torch.Generator) -> Tensor:
    """``scale`` x N(0, 1/fan_in): the fan-in initialisation every task starts from, scaled by its init knob."""
    return torch.randn(shape, generator=generator) * scale / math.sqrt(fan_in)


class Task(FunctionalTask):
    """An MLP task of the family: its data on ``device``, ``init_params()``, ``loss(params, x, y)``, ``batch(step)``."""

    def __init__(self, config: TaskConfig, device: torch.device | str = "cpu") -> None:
        self.config, self.device = config, torch.device(device)
        self.batch_size, self.seed = config.batch_size, config.seed
        inputs, targets = dataset_arrays(config.dataset)
        self.inputs, self.targets = torch.from_numpy(inputs).to(self.device), torch.from_numpy(targets).to(self.device)
        self.classes = int(targets.max()) + 1 if config.dataset != "teacher" else 0
        self.sizes = (inputs.shape[1], *config.hidden, self.classes or 1)
        self.activation = ACTIVATIONS[config.activation]

    def init_params(self) -> list[Tensor]:
        """Weights ``init_scale`` x N(0, 1/fan_in), zero biases; the same for the same task seed."""
        generator = torch.Generator().manual_seed(self.config.seed)
        params = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            weight = scaled_normal((fan_in, fan_out), fan_in, self.config.init_scale, generator)
            params += [weight.to(self.device), torch.zeros(fan_out, device=self.device)]
        return params

    def forward(self, params: list[Tensor], inputs: Tensor) -> Tensor:
        out = inputs
        for index in range(0, len(params), 2):
            out = out @ params[index] + params[index + 1]
            if index < len(params) - 2:
                out = self.activation(out)
        return out


def sample_task(rng: np.random.Generator, *, max_width: int = 64, seed: int | None = None) -> TaskConfig:
    """A task of the in-distribution family (widths up to ``max_width``: the curriculum's knob)."""
    widths = [w for w in (16, 32, 64) if w <= max_width] or [16]
    depth = int(rng.integers(1, 3))
    return TaskConfig(dataset=str(rng.choice(DATASETS)), hidden=tuple(int(rng.choice(widths)) for _ in range(depth)),
                      activation=str(rng.choice(list(ACTIVATIONS))), init_scale=float(np.exp(rng.uniform(np.log(0.5), np.log(2)))),
                      batch_size=int(rng.choice([32, 64, 128])),
                      seed=int(rng.integers(HELD_OUT_SEEDS)) if seed is None else seed)


def held_out_tasks(count: int = 8) -> list[TaskConfig]:
    """The meta-test tasks: the family's distribution, seeds meta-training never draws, every dataset covered."""
    rng = np.random.default_rng(HELD_OUT_SEEDS)
    tasks = [sample_task(rng, seed=HELD_OUT_SEEDS + index) for index in range(count)]
    return [replace(task, dataset=DATASETS[index % len(DATASETS)]) for index, task in enumerate(tasks)]
