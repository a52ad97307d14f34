"""SERAC: semi-parametric editing with a retrieval-augmented counterfactual model (Mitchell et al., ICML 2022).

The base model is never touched.  Edits go into a memory; for an input
``x`` a scope classifier scores every stored edit, and if the best scores
above one half (the paper's threshold), a counterfactual model answers from
(that edit, ``x``); otherwise the base model answers (Sec. 3, Fig. 2).
Meta-training (Sec. 3.2): the counterfactual model's NLL of the new answer on
in-scope inputs, and the scope classifier's binary cross-entropy on in-scope
against out-of-scope inputs, the two classes weighted equally, hard
out-of-scope inputs among the negatives.

The scope classifier here is the paper's embedding variant (edit and input
encoded apart, logit = learned scale x cosine + bias), not its cross-encoder:
a memory of a thousand edits then costs one encoding per input instead of a
thousand joint passes; its encoder starts from the base model's weights.
It embeds the edit's question; the answer has no say
in which inputs an edit covers.  The counterfactual model is a ``FactModel``
reading ``edit question, new answer, <sep>, input``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from meta.editing.editor import Edit, EncodedEdits, balanced_scope_bce, encode_edits
from meta.editing.fact_model import FactModel, FactModelShape
from meta.editing.knowledge import Vocabulary

__all__ = ["SERAC", "SERACModel", "join_edit"]

#: the paper's scope threshold
IN_SCOPE = 0.5


def join_edit(edit_tokens: Tensor, answers: Tensor, tokens: Tensor, pad: int, sep: int) -> Tensor:
    """``edit question, answer, <sep>, input`` per row, right-padded: [N, 2 L + 2] from [N, L], [N], [N, L]."""
    rows, length = tokens.shape
    joined = torch.full((rows, 2 * length + 2), pad, dtype=tokens.dtype, device=tokens.device)
    edit_lengths, input_lengths = (edit_tokens != pad).sum(-1), (tokens != pad).sum(-1)
    columns = torch.arange(2 * length + 2, device=tokens.device)
    # where each column of the joined row reads from: the edit, the answer, the separator, the input
    after_edit = columns[None] - edit_lengths[:, None]
    joined = torch.where(columns[None] < edit_lengths[:, None],
                         edit_tokens.gather(1, columns[None].clamp(max=length - 1).expand(rows, -1)), joined)
    joined = torch.where(after_edit == 0, answers[:, None], joined)
    joined = torch.where(after_edit == 1, torch.full_like(joined, sep), joined)
    input_column = after_edit - 2
    reads_input = (input_column >= 0) & (input_column < input_lengths[:, None])
    return torch.where(reads_input, tokens.gather(1, input_column.clamp(0, length - 1)), joined)


class ScopeClassifier(nn.Module):
    """Embeds questions; ``logits(edits, inputs)`` [B, M] = scale x cosine + bias.

    The encoder starts as a copy of the base model (a new head), as the
    paper's starts from a pretrained encoder: every entity's embedding then
    means something, also for the entities no training edit is about.
    """

    def __init__(self, base: FactModel) -> None:
        super().__init__()
        shape = dataclasses.replace(base.shape, outputs=base.shape.width)
        self.encoder = FactModel(shape)
        self.encoder.load_state_dict({k: v for k, v in base.state_dict().items() if not k.startswith("head.")}, strict=False)
        # the word embeddings stay the base model's: trained ones would drift from those of the entities no
        # training edit is about, and the classifier would stop generalising to them
        self.encoder.embedding.requires_grad_(False)
        self.log_scale = nn.Parameter(torch.tensor(2.3))
        self.bias = nn.Parameter(torch.tensor(-5.0))

    def embed(self, tokens: Tensor) -> Tensor:
        return F.normalize(self.encoder(tokens), dim=-1)

    def logits(self, edit_embeddings: Tensor, input_embeddings: Tensor) -> Tensor:
        return self.log_scale.exp() * input_embeddings @ edit_embeddings.T + self.bias


class SERACModel(nn.Module):
    """A frozen base model behind an edit memory: answers like the base model except where an edit is in scope."""

    def __init__(self, base: nn.Module, serac: SERAC, memory: EncodedEdits, embeddings: Tensor) -> None:
        super().__init__()
        self.base, self.serac, self.memory, self.memory_embeddings = base, serac, memory, embeddings

    def route(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """(in scope of some edit? [B], index of the best-scoring edit [B])."""
        scores = self.serac.classifier.logits(self.memory_embeddings, self.serac.classifier.embed(tokens))
        best_score, best = scores.max(dim=-1)
        return torch.sigmoid(best_score) > IN_SCOPE, best

    @torch.no_grad()
    def forward(self, tokens: Tensor) -> Tensor:
        logits = self.base(tokens)
        in_scope, best = self.route(tokens)
        if bool(in_scope.any()):
            rows = in_scope.nonzero().squeeze(1)
            edit = best[rows]
            joined = join_edit(self.memory.tokens[edit], self.memory.answers[edit], tokens[rows], self.serac.vocab.pad,
                               self.serac.vocab.sep)
            logits[rows] = self.serac.counterfactual(joined)
        return logits


class SERAC(nn.Module):
    """SERAC's two learned parts; ``edit(model, edits)`` returns a ``SERACModel`` holding the edits in memory."""

    def __init__(self, base: FactModel, vocab: Vocabulary, max_length: int, *, counterfactual_width: int = 96) -> None:
        super().__init__()
        self.vocab, self.max_length = vocab, max_length
        self.classifier = ScopeClassifier(base)
        self.counterfactual = FactModel(FactModelShape(len(vocab), 2 * max_length + 2, counterfactual_width))
        self.name = "SERAC"

    def edit(self, model: nn.Module, edits: Sequence[Edit]) -> SERACModel:
        """``model`` with ``edits`` added to its memory (a ``SERACModel`` gets the union; ``model`` is unchanged)."""
        request = encode_edits(self.vocab, self.max_length, edits)
        base, memory = (model.base, model.memory) if isinstance(model, SERACModel) else (model, None)
        outputs = base.head.out_features if isinstance(base, FactModel) else None
        if outputs != len(self.vocab):
            raise ValueError(f"SERAC was trained for a FactModel answering over {len(self.vocab)} words; got "
                             f"{type(base).__name__}" + (f" answering over {outputs}" if outputs else ""))
        request = request.to(next(base.parameters()).device)
        with torch.no_grad():
            embeddings = self.classifier.embed(request.tokens)
        if memory is not None:  # only the new edits are embedded: a long sequence of edits costs one pass each
            request = EncodedEdits(torch.cat([memory.tokens, request.tokens]), torch.cat([memory.answers, request.answers]))
            embeddings = torch.cat([model.memory_embeddings, embeddings])
        return SERACModel(base, self, request, embeddings).eval()

    def meta_loss(self, request: EncodedEdits, in_scope: Tensor, out_of_scope: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Counterfactual NLL + balanced scope BCE over K edits.

        ``in_scope`` [K, R, L]: rephrasings of each edit (answer: the edit's);
        ``out_of_scope`` [K, N, L]: other questions, hard ones among them.
        """
        count, rephrasings, length = in_scope.shape
        edit_embeddings = self.classifier.embed(request.tokens)
        positive = self.classifier.embed(in_scope.flatten(0, 1)).view(count, rephrasings, -1)
        negative = self.classifier.embed(out_of_scope.flatten(0, 1)).view(count, out_of_scope.shape[1], -1)
        scale, bias = self.classifier.log_scale.exp(), self.classifier.bias
        positive_logits = scale * (positive * edit_embeddings[:, None]).sum(-1) + bias
        negative_logits = scale * (negative * edit_embeddings[:, None]).sum(-1) + bias
        scope_loss = balanced_scope_bce(positive_logits, negative_logits)
        questions = torch.cat([request.tokens[:, None], in_scope], dim=1).flatten(0, 1)
        repeat = rephrasings + 1
        joined = join_edit(request.tokens.repeat_interleave(repeat, 0), request.answers.repeat_interleave(repeat),
                           questions, self.vocab.pad, self.vocab.sep)
        counterfactual_logits = self.counterfactual(joined)
        answers = request.answers.repeat_interleave(repeat)
        counterfactual_nll = F.cross_entropy(counterfactual_logits, answers)
        return counterfactual_nll + scope_loss, {
            "losses/counterfactual_nll": float(counterfactual_nll.detach()), "losses/scope_bce": float(scope_loss.detach()),
            "charts/train_scope_recall": float((positive_logits > 0).float().mean()),
            "charts/train_scope_false_positive_rate": float((negative_logits > 0).float().mean()),
            "charts/train_counterfactual_accuracy": float((counterfactual_logits.argmax(-1) == answers).float().mean()),
        }
