"""Meta-training data and loop for the policy editors (MEND, SERAC): random reach edits and the policy's own states.

``EditBatches`` draws the training edits once (``behaviour.sample_edits``),
runs the expert on each from the meta-training seed range (demonstration
episodes, and as many held-out in-scope episodes: the edit's "rephrasings"),
and samples meta-batches: per edit, demonstration states, held-out in-scope
states with their target actions, and out-of-scope states of the unedited
policy and constructed ones, a third each: reach with its goal outside the
edit's quadrant (from ``reach_episodes`` episodes of as many goals), the other
tasks, and the edit's own in-scope states with the goal moved out of its
quadrant: the hardest negatives, as SERAC's hard out-of-scope inputs share
the edit's words, which teach that the goal, not the arm's pose, decides scope.  ``meta_train`` takes Adam steps on an
editor's meta-loss.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from envs.layout import GOAL
from meta.editing.policy.actor import ActorPolicy
from meta.editing.policy.behaviour import ReachEdit, demonstrations, policy_reach_states, sample_edits, seed_goals

__all__ = ["EditBatches", "meta_train"]


class EditBatches:
    """Meta-batches of reach edits for ``policy`` (see the module docstring)."""

    def __init__(self, policy: ActorPolicy, pool: tuple[np.ndarray, np.ndarray], *, edits: int = 64, episodes: int = 4,
                 reach_episodes: int = 128, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.edits: list[ReachEdit] = sample_edits(edits, rng)
        seeds, goals = seed_goals("meta-train")
        chosen = [rng.choice(seeds[edit.in_scope(goals)], 2 * episodes, replace=False) for edit in self.edits]
        self.demo_states, self.demo_actions = map(torch.as_tensor, demonstrations(
            self.edits, [c[:episodes] for c in chosen], seed=seed))
        self.scope_states, self.scope_actions = map(torch.as_tensor, demonstrations(
            self.edits, [c[episodes:] for c in chosen], seed=seed + 1))
        self.reach = policy.task_id("reach")
        states, ids = pool
        # reach's own states from many goals (every quadrant), apart from the pool's few reach episodes
        reach_states = policy_reach_states(policy, seeds[: reach_episodes], seed=seed)
        keep = ids != self.reach
        self.pool_states = torch.as_tensor(np.concatenate([states[keep], reach_states]))
        self.pool_ids = torch.as_tensor(np.concatenate([ids[keep], np.full(len(reach_states), self.reach)]))
        self.other_rows = torch.arange(int(keep.sum()))
        #: per edit, the reach states whose goal lies outside its quadrant
        offset = len(self.other_rows)
        self.hard_rows = [torch.as_tensor(offset + np.flatnonzero(~edit.in_scope(reach_states[:, GOAL]))) for edit in self.edits]
        #: per edit, goals of the meta-training seeds outside its quadrant
        self.outside_goals = [torch.as_tensor(goals[~edit.in_scope(goals)], dtype=torch.float32) for edit in self.edits]
        self.generator = torch.Generator().manual_seed(seed)

    def _pick(self, rows: Tensor, count: int) -> Tensor:
        return rows[torch.randint(len(rows), (count,), generator=self.generator)]

    def sample(self, count: int, states: int = 64) -> tuple[tuple[Tensor, Tensor, Tensor], tuple[Tensor, Tensor, Tensor],
                                                             tuple[Tensor, Tensor]]:
        """(demos, in-scope, out-of-scope) of ``count`` edits, ``states`` states each; shapes as ``PolicyMEND.meta_loss``."""
        which = torch.randperm(len(self.edits), generator=self.generator)[:count]
        per_edit = self.demo_states.shape[1]
        take = torch.stack([torch.randperm(per_edit, generator=self.generator)[:states] for _ in which])
        rows = which[:, None]
        ids = torch.full((count, states), self.reach)
        demos = (self.demo_states[rows, take], ids, self.demo_actions[rows, take])
        take = torch.stack([torch.randperm(per_edit, generator=self.generator)[:states] for _ in which])
        in_scope = (self.scope_states[rows, take], ids, self.scope_actions[rows, take])
        third = states // 3
        out_rows = torch.stack([torch.cat([self._pick(self.hard_rows[int(k)], third), self._pick(self.other_rows, states - 2 * third)])
                                for k in which])
        out_states = self.pool_states[out_rows]
        # the hardest negatives: the edit's own demonstrated states with the goal moved out of its quadrant
        moved = self.scope_states[rows, take[:, :third]].clone()
        moved[..., GOAL] = torch.stack([self.outside_goals[int(k)][self._pick(torch.arange(len(self.outside_goals[int(k)])), third)]
                                        for k in which])
        out_ids = torch.cat([self.pool_ids[out_rows], torch.full((count, third), self.reach)], 1)
        return demos, in_scope, (torch.cat([out_states, moved], 1), out_ids)


def meta_train(editor: nn.Module, loss: Callable[[tuple], tuple[Tensor, dict]], batches: EditBatches, *, steps: int,
               lr: float = 1e-3, edits_per_step: int = 8, log_every: int = 0) -> dict:
    """``steps`` Adam steps on ``loss(batch)``; returns the last step's metrics and the wall-clock seconds."""
    optimizer = torch.optim.Adam(editor.parameters(), lr=lr)
    start, metrics = time.perf_counter(), {}
    for step in range(1, steps + 1):
        value, metrics = loss(batches.sample(edits_per_step))
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        if log_every and step % log_every == 0:
            print(f"  {editor.name} step {step}: " + ", ".join(f"{k.split('/')[-1]} {v:.4f}" for k, v in metrics.items()))
    return {**metrics, "seconds": time.perf_counter() - start}
