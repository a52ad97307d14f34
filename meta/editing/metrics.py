"""Scoring editors: edit success and drawdown, on single edits and along a sequence of edits.

The metrics of MEND and SERAC (Mitchell et al., ICLR 2022 and ICML 2022):

* edit success (ES): accuracy on the edit's in-scope inputs after the edit,
  here its held-out rephrasings (questions through templates no edit is
  phrased in); ``edit_accuracy`` is the same on the edited question itself;
* drawdown (DD): accuracy lost on out-of-scope inputs, questions about
  entities nobody edits (base accuracy minus edited accuracy);
* hard out-of-scope: the accuracy kept on questions that share words with the
  edit (the same entity's other relations, the same relation of other
  entities), and its drawdown.

``score_single_edits`` edits the base model afresh for every case and
averages; ``score_sequence`` applies the cases one after another to the same
model (the sequential editing where editors break, AlphaEdit, ICLR 2025) and
scores everything edited so far at chosen points.  Hard questions that are
themselves edited later in a sequence are left out of its hard scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from meta.editing.base_model import accuracy
from meta.editing.knowledge import EditCase, KnowledgeBase, Question

__all__ = ["OutOfScope", "score_edited", "score_single_edits", "score_sequence", "edit_pair"]


def edit_pair(kb: KnowledgeBase, case: EditCase) -> tuple[str, str]:
    """The case's edit as the API takes it: (question text, new answer)."""
    return kb.text(case.edit), case.new_object


class OutOfScope:
    """A fixed sample of questions about never-edited entities, and the base model's accuracy on it."""

    def __init__(self, kb: KnowledgeBase, base: nn.Module, count: int = 500, seed: int = 0) -> None:
        questions = kb.questions(kb.entity_split["base-only"])
        chosen = np.random.default_rng([seed, 0x005C]).choice(len(questions), size=min(count, len(questions)), replace=False)
        self.questions = [questions[i] for i in chosen]
        self.tokens, self.answers = _encode(kb, self.questions)
        self.base_accuracy = accuracy(base, self.tokens, self.answers)

    def drawdown(self, edited: nn.Module) -> float:
        return self.base_accuracy - accuracy(edited, self.tokens, self.answers)


def _encode(kb: KnowledgeBase, questions: Sequence[Question], answers: Sequence[str] | None = None):
    tokens = torch.from_numpy(kb.tokens(questions))
    if answers is None:
        return tokens, torch.from_numpy(kb.answer_tokens(questions))
    return tokens, torch.tensor([kb.vocab.index[a] for a in answers])


def _in_scope(kb: KnowledgeBase, cases: Sequence[EditCase]):
    rephrased = [(q, c.new_object) for c in cases for q in c.rephrasings]
    return _encode(kb, [q for q, _ in rephrased], [a for _, a in rephrased]), \
        _encode(kb, [c.edit for c in cases], [c.new_object for c in cases])


def score_edited(kb: KnowledgeBase, base: nn.Module, edited: nn.Module, cases: Sequence[EditCase],
                 out_of_scope: OutOfScope, edited_later: Sequence[EditCase] = ()) -> dict[str, float]:
    """Scores of ``edited`` (``base`` with ``cases`` edited in); hard questions about a fact of ``cases`` or
    of ``edited_later`` are left out."""
    hard_questions = _hard_not_edited(cases, [*cases, *edited_later])
    (rephrase_tokens, rephrase_answers), (edit_tokens, edit_answers) = _in_scope(kb, cases)
    hard_tokens, hard_answers = _encode(kb, hard_questions)
    hard_after = accuracy(edited, hard_tokens, hard_answers)
    return {
        "edit_success": accuracy(edited, rephrase_tokens, rephrase_answers),
        "edit_accuracy": accuracy(edited, edit_tokens, edit_answers),
        "drawdown": out_of_scope.drawdown(edited),
        "hard_accuracy": hard_after,
        "hard_drawdown": accuracy(base, hard_tokens, hard_answers) - hard_after,
    }


def score_single_edits(editor, base: nn.Module, kb: KnowledgeBase, cases: Sequence[EditCase],
                       out_of_scope: OutOfScope) -> dict[str, float]:
    """Mean scores over ``cases``, each edited into a fresh copy of ``base`` on its own."""
    totals: dict[str, float] = {}
    for case in cases:
        edited = editor.edit(base, [edit_pair(kb, case)])
        for key, value in score_edited(kb, base, edited, [case], out_of_scope).items():
            totals[key] = totals.get(key, 0.0) + value
    return {key: value / len(cases) for key, value in totals.items()}


def _hard_not_edited(cases: Sequence[EditCase], edited: Sequence[EditCase]) -> list[Question]:
    facts = {(c.edit.entity, c.edit.relation) for c in edited}
    return [q for c in cases for q in c.hard_out_of_scope if (q.entity, q.relation) not in facts]


def score_sequence(editor, base: nn.Module, kb: KnowledgeBase, cases: Sequence[EditCase], out_of_scope: OutOfScope,
                   points: Sequence[int]) -> dict[int, dict[str, float]]:
    """Apply ``cases`` one by one to one model; scores over every edit so far after ``points`` edits."""
    points = sorted(set(points))
    if not points or points[0] < 1 or points[-1] > len(cases):
        raise ValueError(f"points must lie in 1..{len(cases)}, got {points}")
    model, results = base, {}
    for done, case in enumerate(cases, start=1):
        model = editor.edit(model, [edit_pair(kb, case)])
        if done in points:
            results[done] = score_edited(kb, base, model, cases[:done], out_of_scope, cases[done:])
    return results
