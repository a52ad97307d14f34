"""The synthetic 1-D regression task family of MSR's Table 1, generated from a seed.

Zhou, Knowles & Finn (ICLR 2021, Sec. 6.1, Table 1): every task is a bias-free
locally connected layer (kernel 3) mapping ``x ~ N(0, I_70)`` to ``y`` of
length 68.  The family's symmetry is set by the rank ``k`` of the generator:

* ``k1``: one random filter ``randn(3)`` shared by all 68 output positions,
  i.e. the task is a convolution (translation-equivariant);
* ``k2``, ``k5``: a fixed random connectivity ``softmax(randn(68, k))``
  (drawn once per family) times a per-task basis ``randn(k, 3)``, so each
  position's filter is a convex mix of ``k`` task filters: partial sharing.

As in the authors' setup there are 10,000 tasks of 20 examples; the first 80%
are meta-training tasks, the rest meta-test tasks.  Task ``i`` is drawn from
its own generator seeded with ``(seed, k, i)``, so a task is the same whatever
else is asked for, nothing is stored, and any subset is cheap to rebuild.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch import Tensor

from meta.symmetry.layers import _positive

__all__ = ["Problem", "PROBLEMS", "SymmetryTasks"]

Problem = Literal["k1", "k2", "k5"]
PROBLEMS: tuple[str, ...] = get_args(Problem)
Split = Literal["train", "test"]


class SymmetryTasks:
    """The seeded task family for one problem (``k1``, ``k2`` or ``k5``)."""

    def __init__(
        self,
        problem: Problem,
        seed: int = 0,
        *,
        num_tasks: int = 10_000,
        examples: int = 20,
        length: int = 70,
        kernel_size: int = 3,
        train_fraction: float = 0.8,
    ) -> None:
        if problem not in PROBLEMS:
            raise ValueError(f"problem must be one of {PROBLEMS}, got {problem!r}")
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        _positive(num_tasks=num_tasks, examples=examples, length=length, kernel_size=kernel_size)
        if kernel_size > length:
            raise ValueError(f"kernel_size {kernel_size} exceeds the signal length {length}")
        num_train = int(train_fraction * num_tasks)
        if not 0 < num_train < num_tasks:
            raise ValueError(
                f"train_fraction {train_fraction} leaves no train or no test tasks out of {num_tasks}; use a value in (0, 1)"
            )
        self.problem, self.seed = problem, seed
        self.rank = int(problem[1:])
        self.num_tasks, self.examples = num_tasks, examples
        self.length, self.kernel_size = length, kernel_size
        self.length_out = length - kernel_size + 1
        self.num_train = num_train
        if self.rank > 1:
            logits = np.random.default_rng([seed, self.rank, 0]).standard_normal((self.length_out, self.rank))
            weights = np.exp(logits - logits.max(axis=1, keepdims=True))
            self.connectivity = weights / weights.sum(axis=1, keepdims=True)  # (68, k)
        else:
            self.connectivity = None

    # ------------------------------------------------------------------ splits
    def split_range(self, split: Split) -> range:
        """Task indices of ``split``: the first 80% are ``train``, the rest ``test``."""
        if split == "train":
            return range(0, self.num_train)
        if split == "test":
            return range(self.num_train, self.num_tasks)
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")

    def sample_indices(self, split: Split, count: int, rng: np.random.Generator, *, replace: bool = True) -> np.ndarray:
        """``count`` task indices of ``split`` drawn with ``rng``."""
        span = self.split_range(split)
        if count < 1 or (not replace and count > len(span)):
            raise ValueError(f"count must be in 1..{len(span)} for the {split} split, got {count}")
        return span.start + rng.choice(len(span), size=count, replace=replace)

    # ------------------------------------------------------------------ tasks
    def _task(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < self.num_tasks:
            raise IndexError(f"task index {index} outside 0..{self.num_tasks - 1}")
        rng = np.random.default_rng([self.seed, self.rank, index + 1])
        if self.connectivity is None:
            filters = np.repeat(rng.standard_normal((1, self.kernel_size)), self.length_out, axis=0)
        else:
            filters = self.connectivity @ rng.standard_normal((self.rank, self.kernel_size))
        x = rng.standard_normal((self.examples, self.length))
        return filters, x

    def filters(self, indices) -> Tensor:
        """The true locally connected weights of the tasks, shape (tasks, 68, 3)."""
        return torch.from_numpy(np.stack([self._task(int(i))[0] for i in indices])).float()

    def tasks(self, indices) -> tuple[Tensor, Tensor]:
        """Inputs (tasks, examples, 70) and targets (tasks, examples, 68), float32."""
        drawn = [self._task(int(i)) for i in indices]
        filters = np.stack([f for f, _ in drawn])
        x = np.stack([x for _, x in drawn])
        windows = sliding_window_view(x, self.kernel_size, axis=-1)  # (tasks, examples, 68, 3)
        y = np.einsum("tenk,tnk->ten", windows, filters)
        return torch.from_numpy(x).float(), torch.from_numpy(y).float()

    def split_support_query(self, x: Tensor, y: Tensor, support: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The first ``support`` examples of every task adapt, the rest are its query set."""
        if not 1 <= support < self.examples:
            raise ValueError(f"support must be in 1..{self.examples - 1} (tasks have {self.examples} examples), got {support}")
        return x[:, :support], y[:, :support], x[:, support:], y[:, support:]
