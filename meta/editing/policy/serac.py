"""SERAC on a policy (Mitchell et al., ICML 2022): the actor stays frozen, edits live in a memory.

The fact editor's design (``meta/editing/serac.py``) with states for questions:
a scope classifier embeds states (with their task) and scores an input
against each stored edit as the best ``scale x cosine + bias`` over that
edit's remembered demonstration states (the paper's embedding classifier, its
memory entries being the edit's states); above one half the counterfactual
policy acts, conditioned on the edit, otherwise the base actor does.  The
counterfactual policy reads the input state and a context: the mean of an
encoder over the edit's (state, action) demonstrations, which is how an edit
"question and answer" is given to it when the answer is a behaviour.
Meta-training loss (Sec. 3.2): the counterfactual's squared action error on
in-scope states + the scope classifier's balanced binary cross-entropy,
out-of-scope states (other tasks, and reach outside the edit's region) as
negatives.  Observations are standardised by statistics of the policy's own
states, fixed at construction.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from agents.networks import mlp
from envs.layout import ACTION_DIM, OBS_DIM
from meta.editing.editor import balanced_scope_bce
from meta.editing.policy.actor import PolicyEdit, TaskPolicy, check_policy_edits

__all__ = ["PolicySERAC", "SERACPolicy"]

IN_SCOPE = 0.5


class PolicySERAC(nn.Module):
    """The scope classifier and counterfactual policy; ``edit(policy, edits)`` returns a ``SERACPolicy``."""

    def __init__(self, num_tasks: int, states: Tensor, *, width: int = 128, embedding: int = 32, context: int = 32,
                 memory_per_edit: int = 128) -> None:
        super().__init__()
        self.num_tasks, self.memory_per_edit = num_tasks, memory_per_edit
        self.register_buffer("obs_mean", states.mean(0))
        self.register_buffer("obs_std", states.std(0).clamp_min(1e-3))
        features = OBS_DIM + num_tasks
        self.scope = mlp(features, (width, width), embedding)
        self.log_scale, self.bias = nn.Parameter(torch.tensor(2.3)), nn.Parameter(torch.tensor(-5.0))
        self.context = mlp(features + ACTION_DIM, (width, width), context)
        self.counterfactual = mlp(features + context, (width, width), ACTION_DIM)
        self.name = "SERAC"

    def _features(self, states: Tensor, ids: Tensor) -> Tensor:
        return torch.cat([(states - self.obs_mean) / self.obs_std, F.one_hot(ids, self.num_tasks).to(states.dtype)], -1)

    def embed(self, states: Tensor, ids: Tensor) -> Tensor:
        return F.normalize(self.scope(self._features(states, ids)), dim=-1)

    def scope_logits(self, memory: Tensor, memory_mask: Tensor, inputs: Tensor) -> Tensor:
        """[..., E] best logit of each edit's memory [E, S, d] (``memory_mask`` [E, S]) for inputs [..., d]."""
        logits = self.log_scale.exp() * torch.einsum("...d,esd->...es", inputs, memory) + self.bias
        return logits.masked_fill(~memory_mask, float("-inf")).amax(-1)

    def contexts(self, states: Tensor, ids: Tensor, actions: Tensor, mask: Tensor) -> Tensor:
        """[E, c]: the mean encoding of each edit's demonstrations [E, S, ...] (``mask`` [E, S])."""
        encoded = self.context(torch.cat([self._features(states, ids), actions], -1)) * mask[..., None]
        return encoded.sum(-2) / mask.sum(-1, keepdim=True)

    def act_counterfactually(self, states: Tensor, ids: Tensor, contexts: Tensor) -> Tensor:
        return torch.tanh(self.counterfactual(torch.cat([self._features(states, ids), contexts], -1)))

    # ----------------------------------------------------------------- editing
    def _padded(self, edits: Sequence[PolicyEdit]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        longest = max(len(e.states) for e in edits)
        states, actions = torch.zeros(len(edits), longest, OBS_DIM), torch.zeros(len(edits), longest, ACTION_DIM)
        mask = torch.zeros(len(edits), longest, dtype=torch.bool)
        for row, e in enumerate(edits):
            states[row, : len(e.states)], actions[row, : len(e.states)], mask[row, : len(e.states)] = e.states, e.actions, True
        ids = torch.tensor([e.task_id for e in edits])[:, None].expand(-1, longest)
        return states, ids, actions, mask

    @torch.no_grad()
    def edit(self, policy: TaskPolicy, edits: Sequence[PolicyEdit]) -> SERACPolicy:
        """``policy`` with ``edits`` added to its memory (a ``SERACPolicy`` gets the union; ``policy`` is unchanged)."""
        base = policy.base if isinstance(policy, SERACPolicy) else policy
        if len(base.task_names) != self.num_tasks:
            raise ValueError(f"SERAC was trained for a policy of {self.num_tasks} tasks; this one has {len(base.task_names)}")
        states, ids, actions, mask = self._padded(check_policy_edits(edits, self.num_tasks))
        contexts = self.contexts(states, ids, actions, mask)
        # the memory keeps evenly spaced demonstration states of each edit
        keep = torch.linspace(0, states.shape[1] - 1, min(self.memory_per_edit, states.shape[1])).round().long()
        memory, memory_mask = self.embed(states[:, keep], ids[:, keep]), mask[:, keep]
        if isinstance(policy, SERACPolicy):
            width = max(memory.shape[1], policy.memory.shape[1])
            pad = lambda t, value: F.pad(t, (0, 0) * (t.ndim - 2) + (0, width - t.shape[1]), value=value)  # noqa: E731
            memory = torch.cat([pad(policy.memory, 0.0), pad(memory, 0.0)])
            memory_mask = torch.cat([pad(policy.memory_mask, False), pad(memory_mask, False)])
            contexts = torch.cat([policy.contexts, contexts])
        return SERACPolicy(base, self, memory, memory_mask, contexts)

    def meta_loss(self, demos: tuple[Tensor, Tensor, Tensor], in_scope: tuple[Tensor, Tensor, Tensor],
                  out_of_scope: tuple[Tensor, Tensor]) -> tuple[Tensor, dict[str, float]]:
        """Counterfactual action error + balanced scope BCE over K edits; shapes as ``PolicyMEND.meta_loss``."""
        states, ids, actions = demos
        mask = torch.ones(states.shape[:2], dtype=torch.bool)
        keep = torch.linspace(0, states.shape[1] - 1, min(self.memory_per_edit, states.shape[1])).round().long()
        memory = self.embed(states[:, keep], ids[:, keep])  # [K, S, d]
        contexts = self.contexts(states, ids, actions, mask)
        scope_states, scope_ids, scope_actions = in_scope
        other_states, other_ids = out_of_scope
        scale = self.log_scale.exp()

        def own_logits(inputs):  # [K, R, d] against each edit's own memory
            return (scale * torch.einsum("krd,ksd->krs", inputs, memory) + self.bias).amax(-1)

        positive = own_logits(self.embed(scope_states, scope_ids))
        negative = own_logits(self.embed(other_states, other_ids))
        scope_loss = balanced_scope_bce(positive, negative)
        taken = self.act_counterfactually(scope_states, scope_ids, contexts[:, None].expand(-1, scope_states.shape[1], -1))
        action_error = (taken - scope_actions).square().sum(-1).mean()
        return action_error + scope_loss, {
            "losses/counterfactual_error": float(action_error.detach()), "losses/scope_bce": float(scope_loss.detach()),
            "charts/train_scope_recall": float((positive > 0).float().mean()),
            "charts/train_scope_false_positive_rate": float((negative > 0).float().mean())}


class SERACPolicy(TaskPolicy):
    """A frozen policy behind an edit memory: acts like it except where an edit is in scope."""

    def __init__(self, base: TaskPolicy, serac: PolicySERAC, memory: Tensor, memory_mask: Tensor, contexts: Tensor) -> None:
        self.base, self.serac = base, serac
        self.memory, self.memory_mask, self.contexts = memory, memory_mask, contexts
        self.task_names = base.task_names

    def route(self, obs: Tensor, task_ids: Tensor) -> tuple[Tensor, Tensor]:
        """(in scope of some edit? [B], index of the best-scoring edit [B])."""
        scores = self.serac.scope_logits(self.memory, self.memory_mask, self.serac.embed(obs, task_ids))
        best_score, best = scores.max(-1)
        return torch.sigmoid(best_score) > IN_SCOPE, best

    @torch.no_grad()
    def act(self, obs: Tensor, task_ids: Tensor) -> Tensor:
        actions = self.base.act(obs, task_ids)
        in_scope, best = self.route(obs, task_ids)
        if bool(in_scope.any()):
            rows = in_scope.nonzero().squeeze(1)
            actions[rows] = self.serac.act_counterfactually(obs[rows], task_ids[rows], self.contexts[best[rows]])
        return actions


