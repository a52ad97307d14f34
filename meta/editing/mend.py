"""MEND: model editor networks with gradient decomposition (Mitchell, Lin, Bosselut, Finn & Manning, ICLR 2022).

For a linear layer ``y = W u + b``, the fine-tuning gradient of an edit is a
sum of rank-one terms ``dW = sum_t delta_t u_t^T`` over tokens, with ``u_t``
the layer's input and ``delta_t`` the loss gradient at its output.  MEND
learns a map ``g`` from each ``z = [u; delta]`` to ``[u~; delta~]`` and
edits with ``W~ = W - alpha_l sum_t delta~_t u~_t^T`` (the paper's Sec. 3):

* ``g`` is an MLP with two residual layers whose weights are low-rank
  products ``U V`` (eq. 3-4): ``h = z + relu(s1_l * (U1 V1 z + b) + o1_l)``,
  ``g(z) = h + relu(s2_l * U2 V2 h + o2_l)``; one ``g`` per weight shape,
  shared by the layers of that shape, with a per-layer scale ``s`` and
  shift ``o`` (the paper's layer-specific conditioning); ``alpha_l`` is a
  learned per-layer edit rate;
* ``g`` is initialised to the identity (the second factor of each product is
  zero), so an untrained MEND takes exactly a plain gradient step of size
  ``alpha``.  ``z`` is normalised by running statistics of the training
  edits' factors, as the authors do; the output is mapped back to the
  gradient's scale, which keeps the identity exact;
* meta-training loss (eq. 5): ``c_edit * L_e + L_loc``, ``L_e`` the NLL of the
  new answer on a rephrasing of the edited question under the edited weights,
  ``L_loc`` the KL from the unedited model's answers on unrelated questions;
  ``c_edit = 0.1`` as in the paper.  Each edit of a meta-batch is applied on
  its own, all at once with ``torch.func.vmap``.

Padding tokens are left out of the sum.  The factors come from forward hooks
on the edited layers and one ``torch.autograd.grad`` to their outputs, not
from the functional inner loop (``meta/inner_loop.py``): that loop produces
parameter gradients, and MEND needs their rank-one factors.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, vmap

from meta.editing.editor import Edit, EncodedEdits, check_layers, encode_edits, locality_kl, with_weights
from meta.editing.knowledge import Vocabulary

__all__ = ["MEND", "EditorNetworks", "GradientEditor", "rank_one_factors"]


class GradientEditor(nn.Module):
    """MEND's ``g`` for one weight shape: ``[u; delta]`` -> ``[u~; delta~]``, identity at initialisation."""

    def __init__(self, inputs: int, outputs: int, rank: int, layers: int) -> None:
        super().__init__()
        size = inputs + outputs
        self.inputs = inputs
        self.down1, self.up1 = nn.Linear(size, rank, bias=False), nn.Linear(rank, size)
        self.down2, self.up2 = nn.Linear(size, rank, bias=False), nn.Linear(rank, size, bias=False)
        for up in (self.up1, self.up2):
            nn.init.zeros_(up.weight)
        nn.init.zeros_(self.up1.bias)
        self.scale = nn.Parameter(torch.ones(2, layers, size))
        self.shift = nn.Parameter(torch.zeros(2, layers, size))
        # running statistics of the factors seen in meta-training (Chan et al.'s parallel update)
        self.register_buffer("count", torch.zeros(()))
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("m2", torch.zeros(size))

    @torch.no_grad()
    def observe(self, z: Tensor) -> None:
        """Fold the factors ``z`` [N, size] into the running mean and variance."""
        count = torch.tensor(float(len(z)), device=z.device)
        total = self.count + count
        delta = z.mean(0) - self.mean
        self.m2 += z.var(0, unbiased=False) * count + delta.square() * self.count * count / total
        self.mean += delta * count / total
        self.count.copy_(total)

    def forward(self, z: Tensor, layer: int) -> Tensor:
        if self.count > 1:
            mean, std = self.mean, (self.m2 / self.count + 1e-12).sqrt()
        else:  # nothing observed yet: the identity needs no scale
            mean, std = torch.zeros_like(self.mean), torch.ones_like(self.mean)
        normal = (z - mean) / std
        hidden = normal + F.relu(self.scale[0, layer] * self.up1(self.down1(normal)) + self.shift[0, layer])
        out = hidden + F.relu(self.scale[1, layer] * self.up2(self.down2(hidden)) + self.shift[1, layer])
        return out * std + mean


def rank_one_factors(model: nn.Module, weights: dict[str, Tensor], layers: Sequence[str],
                     request: EncodedEdits) -> dict[str, tuple[Tensor, Tensor]]:
    """Per edited layer, the inputs ``u`` [K, L, in] and output gradients ``delta`` [K, L, out] of each edit's NLL.

    The loss is summed over edits, so each edit's factors are its own gradient's.
    """
    # the edited weights require grad here only so that their outputs are on the autograd graph
    weights = {**weights, **{name: weights[name].detach().requires_grad_() for name in layers}}
    modules = dict(model.named_modules())
    captured: dict[str, tuple[Tensor, Tensor]] = {}
    handles = [modules[name.removesuffix(".weight")].register_forward_hook(
        lambda module, args, output, name=name: captured.__setitem__(name, (args[0].detach(), output)))
        for name in layers]
    try:
        with torch.enable_grad():
            logits = functional_call(model, weights, (request.tokens,))
            loss = F.cross_entropy(logits, request.answers, reduction="sum")
            outputs = [captured[name][1] for name in layers]
            deltas = torch.autograd.grad(loss, outputs)
    finally:
        for handle in handles:
            handle.remove()
    return {name: (captured[name][0], delta.detach()) for name, delta in zip(layers, deltas)}


class EditorNetworks(nn.Module):
    """MEND's learned parts for a set of weights: one ``g`` per weight shape and an edit rate per weight.

    ``shapes`` maps each edited weight to its ``(inputs, outputs)``: the sizes of
    its ``u`` and ``delta`` factors, whatever layout the weight is stored in
    (``nn.Linear``'s ``[out, in]`` or an ensemble's ``[in, out]``), so that the
    language model's editor and the policy editor share it.
    """

    def __init__(self, shapes: dict[str, tuple[int, int]], rank: int, edit_lr: float) -> None:
        super().__init__()
        self.layers = tuple(shapes)
        by_shape: dict[tuple[int, int], list[str]] = {}
        for name, (inputs, outputs) in shapes.items():
            by_shape.setdefault((outputs, inputs), []).append(name)
        self.editors = nn.ModuleDict({f"{o}x{i}": GradientEditor(i, o, rank, len(names)) for (o, i), names in by_shape.items()})
        #: layer -> (its shape's editor key, its index among that shape's layers)
        self.slot = {name: (f"{o}x{i}", names.index(name)) for (o, i), names in by_shape.items() for name in names}
        self.edit_lrs = nn.Parameter(torch.full((len(self.layers),), float(edit_lr)))

    def edited_factors(self, factors: dict[str, tuple[Tensor, Tensor]], mask: Tensor) -> dict[str, tuple[Tensor, Tensor]]:
        """Per layer, ``(u~, alpha_l delta~)`` [K, L, in], [K, L, out] of each edit (zero where ``mask`` is False)."""
        edited = {}
        for index, name in enumerate(self.layers):
            u, delta = factors[name]
            key, layer = self.slot[name]
            editor = self.editors[key]
            z = editor(torch.cat([u, delta], dim=-1), layer) * mask[..., None]
            edited[name] = (z[..., : editor.inputs], self.edit_lrs[index] * z[..., editor.inputs:])
        return edited

    def observe(self, factors: dict[str, tuple[Tensor, Tensor]], mask: Tensor) -> None:
        """Fold the factors of real (``mask``) positions into each editor's running statistics."""
        for name in self.layers:
            u, delta = factors[name]
            key, _ = self.slot[name]
            self.editors[key].observe(torch.cat([u, delta], dim=-1)[mask])


class MEND(EditorNetworks):
    """The editor networks and edit rates for ``layers`` of one model shape, and MEND's edit and meta-loss."""

    def __init__(self, model: nn.Module, vocab: Vocabulary, max_length: int, layers: Sequence[str], *,
                 rank: int = 64, edit_lr: float = 1e-2) -> None:
        check_layers(model, layers, "MEND")
        params = dict(model.named_parameters())
        super().__init__({name: (params[name].shape[1], params[name].shape[0]) for name in layers}, rank, edit_lr)
        self.vocab, self.max_length = vocab, max_length
        self.shapes = {name: params[name].shape for name in self.layers}
        self.name = "MEND"

    # ----------------------------------------------------------------- the update
    def weight_updates(self, factors: dict[str, tuple[Tensor, Tensor]], mask: Tensor) -> dict[str, Tensor]:
        """Per layer, ``alpha_l sum_t delta~_t u~_t^T`` of each edit [K, out, in] (real tokens only)."""
        return {name: torch.einsum("klo,kli->koi", delta, u) for name, (u, delta) in self.edited_factors(factors, mask).items()}

    # ----------------------------------------------------------------- editing
    def edit(self, model: nn.Module, edits: Sequence[Edit]) -> nn.Module:
        """The edits applied together (their updates summed) to a copy of ``model``."""
        request = encode_edits(self.vocab, self.max_length, edits)
        check_layers(model, self.layers, "MEND", self.shapes)
        weights = {n: p.detach() for n, p in model.named_parameters()}
        request = request.to(weights[self.layers[0]].device)
        with torch.no_grad():
            factors = rank_one_factors(model, weights, self.layers, request)
            updates = self.weight_updates(factors, request.tokens != self.vocab.pad)
        return with_weights(model, {n: weights[n] - updates[n].sum(0) for n in self.layers})

    def meta_loss(self, model: nn.Module, request: EncodedEdits, rephrased: Tensor, locality: Tensor,
                  edit_weight: float) -> tuple[Tensor, dict[str, float]]:
        """``edit_weight * L_e + L_loc`` over a meta-batch of K edits, each applied on its own.

        ``rephrased`` [K, R, L]: in-scope rephrasings of each edit (answer: the
        edit's); ``locality`` [K, M, L]: unrelated questions per edit.
        """
        weights = {n: p.detach() for n, p in model.named_parameters()}
        mask = request.tokens != self.vocab.pad
        factors = rank_one_factors(model, weights, self.layers, request)
        self.observe(factors, mask)
        updates = self.weight_updates(factors, mask)
        edited = {n: weights[n] - updates[n] for n in self.layers}  # [K, out, in] each

        def answer(layer_weights, tokens):
            return functional_call(model, {**weights, **layer_weights}, (tokens,))

        per_edit = vmap(answer)
        rephrased_logits = per_edit(edited, rephrased)  # [K, R, V]
        edit_nll = F.cross_entropy(rephrased_logits.flatten(0, 1), request.answers.repeat_interleave(rephrased.shape[1]))
        with torch.no_grad():
            reference = model(locality.flatten(0, 1))
        locality_loss = locality_kl(reference, per_edit(edited, locality).flatten(0, 1))
        loss = edit_weight * edit_nll + locality_loss
        success = (rephrased_logits.argmax(-1) == request.answers[:, None]).float().mean()
        return loss, {"losses/edit_nll": float(edit_nll.detach()), "losses/locality_kl": float(locality_loss.detach()),
                      "charts/train_edit_success": float(success)}
