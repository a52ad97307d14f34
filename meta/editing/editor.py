"""What every editor shares: the edit API, checking and encoding edits, and building an edited copy.

An edit is ``(question, new answer)`` as text.  Every editor offers
``editor.edit(model, edits) -> edited model``: a batch of edits at once; for
sequential editing, call it again on what it returned.  The model passed in
is never changed (weight editors return an edited copy; SERAC returns a
wrapper over the frozen model).  Bad input (no edits, a word or an answer the
model's vocabulary lacks, a model without the weights the editor edits) is a
``ValueError`` raised before anything is touched.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from meta.editing.knowledge import Vocabulary

__all__ = ["Edit", "EncodedEdits", "encode_edits", "check_layers", "with_weights", "locality_kl", "balanced_scope_bce",
           "check_fine_tuning"]

Edit = tuple[str, str]


class EncodedEdits:
    """A batch of edits as right-padded question tokens [K, L] and new-answer token ids [K]."""

    def __init__(self, tokens: Tensor, answers: Tensor) -> None:
        self.tokens, self.answers = tokens, answers

    def __len__(self) -> int:
        return len(self.answers)

    def to(self, device) -> EncodedEdits:
        return EncodedEdits(self.tokens.to(device), self.answers.to(device))


def encode_edits(vocab: Vocabulary, max_length: int, edits: Sequence[Edit]) -> EncodedEdits:
    """Check and encode ``edits``; a ValueError says which edit is wrong and why."""
    if isinstance(edits, tuple) and len(edits) == 2 and all(isinstance(e, str) for e in edits):
        raise ValueError("edits must be a list of (question, answer) pairs; got one pair: wrap it in a list")
    edits = list(edits)
    if not edits:
        raise ValueError("no edits given: pass a list of (question, new answer) pairs")
    tokens = torch.full((len(edits), max_length), vocab.pad, dtype=torch.long)
    answers = torch.empty(len(edits), dtype=torch.long)
    for row, edit in enumerate(edits):
        if not (isinstance(edit, Sequence) and len(edit) == 2 and all(isinstance(e, str) for e in edit)):
            raise ValueError(f"edit {row} must be a (question, answer) pair of strings, got {edit!r}")
        question, answer = edit
        try:
            ids = vocab.encode(question)
            answers[row] = vocab.token(answer)
        except ValueError as error:
            raise ValueError(f"edit {row} ({question!r} -> {answer!r}): {error}") from None
        if len(ids) > max_length:
            raise ValueError(f"edit {row}: the question has {len(ids)} words; the model reads at most {max_length}")
        tokens[row, : len(ids)] = torch.tensor(ids)
    return EncodedEdits(tokens, answers)


def check_layers(model: nn.Module, names: Sequence[str], editor: str,
                 shapes: Mapping[str, torch.Size] | None = None) -> None:
    """Refuse a model lacking a weight the editor edits, or holding it in another shape than it was built for."""
    params = dict(model.named_parameters())
    for name in names:
        if name not in params:
            known = ", ".join(n for n in params if n.endswith("weight"))
            raise ValueError(f"{editor} edits {name}, which this model lacks; its weights: {known}")
        if shapes is not None and params[name].shape != shapes[name]:
            raise ValueError(f"{editor} was built for {name} of shape {tuple(shapes[name])}; "
                             f"this model's is {tuple(params[name].shape)}")


def with_weights(model: nn.Module, weights: Mapping[str, Tensor]) -> nn.Module:
    """A frozen copy of ``model`` with ``weights`` (name -> tensor) in place of its own."""
    edited = copy.deepcopy(model)
    params = dict(edited.named_parameters())
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value)
    return edited.requires_grad_(False).eval()


def locality_kl(reference_logits: Tensor, edited_logits: Tensor) -> Tensor:
    """KL(p_reference || p_edited) averaged over questions: how far an edit moved unrelated answers."""
    return F.kl_div(F.log_softmax(edited_logits, -1), F.log_softmax(reference_logits, -1), log_target=True,
                    reduction="batchmean")


def balanced_scope_bce(positive_logits: Tensor, negative_logits: Tensor) -> Tensor:
    """SERAC's scope loss: binary cross-entropy with in-scope and out-of-scope inputs weighted equally."""
    return 0.5 * (F.binary_cross_entropy_with_logits(positive_logits, torch.ones_like(positive_logits))
                  + F.binary_cross_entropy_with_logits(negative_logits, torch.zeros_like(negative_logits)))


def check_fine_tuning(steps: int, lr: float, locality_weight: float, locality_data, missing: str) -> None:
    """A fine-tuning editor's settings: positive steps and rate, and data for its locality term when it has one
    (``missing``: the message when it has not)."""
    if locality_weight > 0 and locality_data is None:
        raise ValueError(missing)
    if steps < 1 or not lr > 0:
        raise ValueError(f"steps must be positive and lr > 0, got steps={steps}, lr={lr}")
