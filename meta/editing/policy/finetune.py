"""Fine-tuning a policy on an edit's demonstrations: plain (FT) and with a locality term (FT+L).

The policy analogue of the fact editors' FT and FT+KL (``meta/editing/finetune.py``):
Adam steps on the demonstrations' error (``ActorPolicy.demonstration_error``,
the loss MEND's edits take their gradient of), over the layers MEND edits; FT+L adds the squared
distance from the unedited policy's actions on states it visits in its own
tasks (``behaviour.policy_states``), the deterministic policy's counterpart of
the KL term.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from meta.editing.editor import check_fine_tuning
from meta.editing.policy.actor import ActorPolicy, PolicyEdit, check_policy_edits

__all__ = ["PolicyFineTune", "EDITED_LAYERS"]

#: the actor's last hidden layer and its output layer, weights and biases
EDITED_LAYERS = ("w1", "b1", "wo", "bo")


def stack_edits(edits: Sequence[PolicyEdit]) -> tuple[Tensor, Tensor, Tensor]:
    """All edits' (states [N, 39], task ids [N], actions [N, 4]) in one batch."""
    return (torch.cat([e.states for e in edits]), torch.cat([torch.full((len(e.states),), e.task_id) for e in edits]),
            torch.cat([e.actions for e in edits]))


class PolicyFineTune:
    """``edit(policy, edits)``: ``steps`` Adam steps on the demonstrations (+ ``locality_weight`` x locality)."""

    def __init__(self, *, steps: int = 200, lr: float = 3e-3, layers: Sequence[str] = EDITED_LAYERS,
                 locality_weight: float = 0.0, locality_states: tuple[Tensor, Tensor] | None = None,
                 locality_batch: int = 512, seed: int = 0) -> None:
        check_fine_tuning(steps, lr, locality_weight, locality_states,
                          "FT+L needs locality_states: (states, task ids) whose actions it keeps")
        self.steps, self.lr, self.layers = steps, lr, tuple(layers)
        self.locality_weight, self.locality_states, self.locality_batch = locality_weight, locality_states, locality_batch
        self.generator = torch.Generator().manual_seed(seed)
        self.name = "FT+L" if locality_weight > 0 else "FT"

    def edit(self, policy: ActorPolicy, edits: Sequence[PolicyEdit]) -> ActorPolicy:
        states, ids, actions = stack_edits(check_policy_edits(edits, len(policy.task_names)))
        frozen = policy.params
        weights = {name: frozen[name].clone().requires_grad_(True) for name in self.layers}
        optimizer = torch.optim.Adam(weights.values(), lr=self.lr)
        for _ in range(self.steps):
            params = frozen | weights
            loss = policy.demonstration_error(params, states, ids, actions).mean()
            if self.locality_weight > 0:
                index = torch.randint(len(self.locality_states[0]), (self.locality_batch,), generator=self.generator)
                other, other_ids = self.locality_states[0][index], self.locality_states[1][index]
                drift = policy.actions(params, other, other_ids) - policy.actions(frozen, other, other_ids)
                loss = loss + self.locality_weight * drift.square().sum(-1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return policy.with_params({name: w.detach() for name, w in weights.items()})
