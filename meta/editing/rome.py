"""ROME: a closed-form rank-one edit of one MLP's output weight (Meng, Bau, Andonian & Belinkov, NeurIPS 2022).

ROME reads an MLP's output projection ``W`` as a key-value memory: the key
``k`` is the projection's input at the subject's last token, the value its
output.  An edit (Sec. 3 and eq. 2 of the paper):

1. ``k*``: the key at the subject in the edit's question;
2. ``v*``: the value that makes the model give the new answer, found by
   gradient steps on a vector ``delta`` added to the projection's output at
   the subject (NLL of the new answer plus a small L2 penalty on ``delta``);
3. the rank-one update that maps ``k*`` to ``v*`` while disturbing the other
   keys least under their uncentered covariance ``C = E[k k^T]``:
   ``W' = W + (v* - W k*) (C^-1 k*)^T / ((C^-1 k*)^T k*)``.

``C`` is estimated once from the unedited model's keys at every token of
questions nobody edits (the paper uses Wikipedia text), with a small ridge so
it inverts.  ``v*`` is optimised on the edit's own question only: the paper's
random prefixes have no analogue in a question-answer model, and borrowing
the knowledge base's other templates would hand ROME the rephrasings it is
scored on.  Several edits in one call are applied one after another, each
with its own closed form (the paper's sequential use; MEMIT batches them).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from meta.editing.editor import Edit, check_layers, encode_edits, with_weights
from meta.editing.knowledge import Vocabulary

__all__ = ["ROMEEditor"]


def _projection(model: nn.Module, layer: int) -> nn.Linear:
    return model.blocks[layer].mlp.fc_out


def keys_at(model: nn.Module, layer: int, tokens: Tensor) -> Tensor:
    """The projection's inputs (keys) [B, L, hidden] of ``layer`` on ``tokens``."""
    captured = []
    handle = _projection(model, layer).register_forward_hook(lambda module, args, output: captured.append(args[0]))
    try:
        with torch.no_grad():
            model(tokens)
    finally:
        handle.remove()
    return captured[0]


class ROMEEditor:
    """Rank-one edits of ``blocks[layer].mlp.fc_out``; build with ``ROMEEditor.fit`` to estimate ``C``."""

    def __init__(self, vocab: Vocabulary, max_length: int, subject_ids: Sequence[int], covariance: Tensor, *,
                 layer: int = 0, steps: int = 25, lr: float = 0.5, l2_weight: float = 1e-3) -> None:
        self.vocab, self.max_length, self.layer = vocab, max_length, layer
        self.subject_ids = torch.tensor(sorted(subject_ids))
        self.covariance_inverse = torch.linalg.inv(covariance)
        self.steps, self.lr, self.l2_weight = steps, lr, l2_weight
        self.weight_name = f"blocks.{layer}.mlp.fc_out.weight"
        self.name = "ROME"

    @classmethod
    def fit(cls, model: nn.Module, vocab: Vocabulary, max_length: int, subject_ids: Sequence[int], corpus: Tensor, *,
            layer: int = 0, ridge: float = 1e-2, **settings) -> ROMEEditor:
        """Estimate ``C`` from ``model`` 's keys at every real token of ``corpus`` (question tokens [N, L])."""
        check_layers(model, [f"blocks.{layer}.mlp.fc_out.weight"], "ROME")
        keys = torch.cat([keys_at(model, layer, chunk)[chunk != vocab.pad] for chunk in corpus.split(4096)])
        covariance = keys.T @ keys / len(keys)
        covariance += ridge * covariance.diagonal().mean() * torch.eye(len(covariance), device=covariance.device)
        return cls(vocab, max_length, subject_ids, covariance.cpu(), layer=layer, **settings)

    def edit(self, model: nn.Module, edits: Sequence[Edit]) -> nn.Module:
        request = encode_edits(self.vocab, self.max_length, edits)
        hidden = self.covariance_inverse.shape[0]
        check_layers(model, [self.weight_name], "ROME", {self.weight_name: torch.Size([_projection(model, self.layer).out_features, hidden])})
        positions = [self._subject_position(tokens, row) for row, tokens in enumerate(request.tokens)]
        edited = with_weights(model, {})
        device = _projection(edited, self.layer).weight.device
        request = request.to(device)
        inverse = self.covariance_inverse.to(device)
        for row, position in enumerate(positions):
            tokens = request.tokens[row: row + 1]
            key = keys_at(edited, self.layer, tokens)[0, position]
            delta = self._value_change(edited, tokens, request.answers[row: row + 1], position)
            direction = inverse @ key
            with torch.no_grad():
                _projection(edited, self.layer).weight += torch.outer(delta, direction) / (direction @ key)
        return edited

    def _subject_position(self, tokens: Tensor, row: int) -> int:
        found = torch.isin(tokens, self.subject_ids).nonzero()
        if len(found) == 0:
            raise ValueError(f"edit {row}: ROME needs a subject in the question, and it names none of the model's entities")
        return int(found[-1])

    def _value_change(self, model: nn.Module, tokens: Tensor, answer: Tensor, position: int) -> Tensor:
        """``v* - v``: the change of the projection's output at the subject that makes the model answer ``answer``."""
        projection = _projection(model, self.layer)
        delta = torch.zeros(projection.out_features, device=tokens.device, requires_grad=True)

        def add_delta(module, args, output):
            output = output.clone()
            output[:, position] = output[:, position] + delta
            return output

        optimizer = torch.optim.Adam([delta], lr=self.lr)
        handle = projection.register_forward_hook(add_delta)
        try:
            for _ in range(self.steps):
                logits = model(tokens)
                if float(F.softmax(logits.detach(), -1)[0, answer[0]]) > 0.99:
                    break
                loss = F.cross_entropy(logits, answer) + self.l2_weight * delta.square().sum()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        finally:
            handle.remove()
        return delta.detach()
