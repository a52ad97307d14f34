"""MEND on a policy: the editor networks of Mitchell et al. (ICLR 2022) on an MT-SAC actor's layers.

The fact editor's method (``meta/editing/mend.py``: rank-one gradient factors
``[u; delta]`` per input, one identity-initialised low-rank ``g`` per weight
shape, per-layer edit rates; ``EditorNetworks`` is shared) applied to a
behaviour edit: the edit's loss is the mean over the edit's demonstrations
of ``ActorPolicy.demonstration_error`` (the squashed Gaussian's NLL of the
demonstrated action at unit variance), so each demonstrated state contributes
one rank-one term, as each token does for a fact.  An ensemble layer stores ``W`` as ``[1, in, out]`` and computes
``h W + b``, so its gradient is ``sum_n u_n^T delta_n`` with ``delta_n`` the
gradient at the layer's output, which is the gradient of the bias of sample
``n``'s own loss (per-sample gradients with ``torch.func.vmap``).

Meta-training loss (the paper's eq. 5, with the squared drift of the
deterministic actions for the KL): ``edit_weight * L_e + L_loc``, ``L_e`` the
demonstration error on held-out in-scope states (other episodes of the same
region) under the edited weights, ``L_loc`` the squared action drift on states
of other tasks and of reach outside the region.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.func import grad, vmap

from meta.editing.mend import EditorNetworks
from meta.editing.policy.actor import ActorPolicy, PolicyEdit, check_policy_edits

__all__ = ["PolicyMEND", "layer_inputs"]

#: the edited weights and the bias whose per-sample gradient is each one's delta
BIAS_OF = {"wo": "bo"}


def _bias(name: str) -> str:
    return BIAS_OF.get(name, "b" + name.removeprefix("w"))


def layer_inputs(params: dict[str, Tensor], obs: Tensor, task_ids: Tensor, name: str) -> Tensor:
    """The input ``u`` [N, in] of weight ``name`` (``w0``, ..., ``wo``): the observation or the previous layer's activations."""
    from agents.networks import ensemble_forward

    last = int(name[1:]) if name != "wo" else sum(1 for key in params if key[0] == "w" and key[1:].isdigit())
    if last == 0:  # the first layer reads the observation (its one-hot columns, e0, are not edited)
        return obs
    kept = {key: value for key, value in params.items() if key in ("w0", "e0", "b0") or
            (key[0] in "wb" and key[1:].isdigit() and 0 < int(key[1:]) < last)}
    width = params[f"b{last - 1}"].shape[-1]
    # the forward with an identity output layer returns the activations that layer reads
    kept["wo"] = torch.eye(width, dtype=obs.dtype)[None]
    kept["bo"] = torch.zeros(1, width, dtype=obs.dtype)
    return ensemble_forward(kept, obs, task_ids, False)[0]


class PolicyMEND(EditorNetworks):
    """MEND's editor networks for ``layers`` of an actor; ``edit(policy, edits)`` and ``meta_loss``."""

    def __init__(self, policy: ActorPolicy, layers: Sequence[str] = ("w1", "wo"), *, rank: int = 32,
                 edit_lr: float = 1e-2) -> None:
        params = policy.params
        missing = [name for name in layers if name not in params]
        if missing:
            raise ValueError(f"MEND edits {', '.join(missing)}, which this actor lacks; its weights: "
                             f"{', '.join(k for k in params if k.startswith('w'))}")
        super().__init__({name: (params[name].shape[1], params[name].shape[2]) for name in layers}, rank, edit_lr)
        self.shapes = {name: params[name].shape for name in self.layers}
        self.name = "MEND"

    def factors(self, params: dict[str, Tensor], states: Tensor, ids: Tensor, actions: Tensor,
                weights: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
        """Per layer, ``(u, delta)`` [..., in], [..., out] of each state's squared error, scaled by ``weights``."""
        lead = states.shape[:-1]
        flat_states, flat_ids, flat_actions = states.reshape(-1, states.shape[-1]), ids.reshape(-1), actions.reshape(-1, actions.shape[-1])
        out = {}
        for name in self.layers:
            bias = _bias(name)

            def loss(b, state, task_id, action, bias=bias):
                return ActorPolicy.demonstration_error({**params, bias: b}, state[None], task_id[None], action[None]).sum()

            delta = vmap(grad(loss), in_dims=(None, 0, 0, 0))(params[bias], flat_states, flat_ids, flat_actions)[:, 0]
            u = layer_inputs(params, flat_states, flat_ids, name)
            out[name] = (u.reshape(*lead, -1), delta.reshape(*lead, -1) * weights[..., None])
        return out

    def updates(self, factors: dict[str, tuple[Tensor, Tensor]], mask: Tensor) -> dict[str, Tensor]:
        """Per layer, each edit's ``sum_n u~_n^T alpha delta~_n`` [K, 1, in, out]."""
        return {name: torch.einsum("kni,kno->kio", u, delta)[:, None]
                for name, (u, delta) in self.edited_factors(factors, mask).items()}

    def _check(self, policy: ActorPolicy) -> None:
        for name, shape in self.shapes.items():
            if name not in policy.params or policy.params[name].shape != shape:
                got = tuple(policy.params[name].shape) if name in policy.params else "none"
                raise ValueError(f"MEND was built for {name} of shape {tuple(shape)}; this actor's is {got}")

    def edit(self, policy: ActorPolicy, edits: Sequence[PolicyEdit]) -> ActorPolicy:
        """The edits applied together (their updates summed) to a copy of ``policy``."""
        edits = check_policy_edits(edits, len(policy.task_names))
        self._check(policy)
        longest = max(len(e.states) for e in edits)
        states = torch.zeros(len(edits), longest, edits[0].states.shape[1])
        actions = torch.zeros(len(edits), longest, edits[0].actions.shape[1])
        mask = torch.zeros(len(edits), longest, dtype=torch.bool)
        for row, e in enumerate(edits):
            states[row, : len(e.states)], actions[row, : len(e.states)], mask[row, : len(e.states)] = e.states, e.actions, True
        ids = torch.tensor([e.task_id for e in edits])[:, None].expand(-1, longest)
        with torch.no_grad():
            factors = self.factors(policy.params, states, ids, actions, mask / mask.sum(-1, keepdim=True))
            updates = self.updates(factors, mask)
        return policy.with_params({name: policy.params[name] - updates[name].sum(0) for name in self.layers})

    def meta_loss(self, policy: ActorPolicy, demos: tuple[Tensor, Tensor, Tensor], in_scope: tuple[Tensor, Tensor, Tensor],
                  out_of_scope: tuple[Tensor, Tensor], edit_weight: float) -> tuple[Tensor, dict[str, float]]:
        """``edit_weight * L_e + L_loc`` over K edits, each applied on its own.

        ``demos``, ``in_scope``: (states [K, N, 39], task ids [K, N], actions [K, N, 4]);
        ``out_of_scope``: (states [K, M, 39], task ids [K, M]).
        """
        params = policy.params
        states, ids, actions = demos
        mask = torch.ones(states.shape[:2], dtype=torch.bool)
        factors = self.factors(params, states, ids, actions, torch.full(states.shape[:2], 1.0 / states.shape[1]))
        self.observe(factors, mask)
        updates = self.updates(factors, mask)
        edited = {name: params[name][None] - updates[name] for name in self.layers}
        per_edit = vmap(lambda weights, obs, task_ids: ActorPolicy.actions({**params, **weights}, obs, task_ids))
        edit_error = vmap(lambda weights, obs, task_ids, actions: ActorPolicy.demonstration_error(
            {**params, **weights}, obs, task_ids, actions))(edited, *in_scope).mean()
        other_states, other_ids = out_of_scope
        with torch.no_grad():
            reference = ActorPolicy.actions(params, other_states, other_ids)
        drift = (per_edit(edited, other_states, other_ids) - reference).square().sum(-1).mean()
        return edit_weight * edit_error + drift, {"losses/edit_error": float(edit_error.detach()),
                                                  "losses/locality_drift": float(drift.detach())}
