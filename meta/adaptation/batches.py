"""How the group-shift learners draw their batches, as the ARM repo builds them.

Every training batch has the layout (groups, examples, ...): ``meta_batch``
sub-batches of ``support`` examples each.  ARM and the group-aware baselines
draw each sub-batch from one group, the groups uniformly (the repo's
``--sampler group --uniform_over_groups 1``), its examples distinct unless
the group is smaller than a sub-batch (the repo always draws with
replacement; distinct examples keep a large group's batch statistics
honest, and keep the results of the datasets whose groups all exceed a
sub-batch as they were measured); ERM draws ``meta_batch x
support`` examples i.i.d. from the (skewed) training distribution, and UW
i.i.d. from the distribution reweighted to be uniform over groups.
Evaluation cuts every group of a split into fixed, near-equal batches of at
most ``support`` examples; each batch is the unlabeled data a model may
adapt with before it predicts.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["GroupSampler", "Sampling", "evaluation_batches"]

#: "examples": i.i.d. from the data; "uniform": i.i.d. uniform over groups; "groups": one group per sub-batch
Sampling = Literal["examples", "uniform", "groups"]


class GroupSampler:
    """Index batches of shape (meta_batch, support) into a split with group ids ``groups``."""

    def __init__(self, groups: np.ndarray, names: tuple[str, ...], rng: np.random.Generator) -> None:
        self.members = [np.flatnonzero(groups == g) for g in range(len(names))]
        empty = [names[g] for g, m in enumerate(self.members) if len(m) == 0]
        if empty:
            raise ValueError(f"group(s) {', '.join(empty)} have no examples; every group needs at least one")
        self.names, self.rng, self.size = names, rng, len(groups)

    def sample(self, sampling: Sampling, meta_batch: int, support: int) -> np.ndarray:
        if sampling == "examples":
            return self.rng.integers(0, self.size, (meta_batch, support))
        if sampling == "uniform":
            groups = self.rng.integers(0, len(self.members), meta_batch * support)
            picks = [self.members[g][self.rng.integers(len(self.members[g]))] for g in groups]
            return np.asarray(picks).reshape(meta_batch, support)
        if sampling == "groups":
            groups = self.rng.choice(len(self.members), meta_batch, replace=meta_batch > len(self.members))
            # distinct examples where the group has enough; a group smaller than a sub-batch (the rarest rotations)
            # is drawn with replacement, as the ARM repo draws every sub-batch
            return np.stack([self.rng.choice(self.members[g], support, replace=len(self.members[g]) < support)
                             for g in groups])
        raise ValueError(f"sampling must be 'examples', 'uniform' or 'groups', got {sampling!r}")


def evaluation_batches(groups: np.ndarray, num_groups: int, support: int) -> list[tuple[int, np.ndarray]]:
    """(group, indices) for every group's examples in near-equal batches of at most ``support``, in order."""
    batches = []
    for g in range(num_groups):
        members = np.flatnonzero(groups == g)
        if len(members) == 0:
            raise ValueError(f"group {g} has no examples to evaluate")
        pieces = -(-len(members) // support)
        batches.extend((g, chunk) for chunk in np.array_split(members, pieces))
    return batches
