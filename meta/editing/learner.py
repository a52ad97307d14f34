"""Meta-training an editor (MEND or SERAC) through the shared loop.

One ``step()`` is one Adam update of the editor on a meta-batch of
``edit_batch`` edits of the edit-train split's facts (each to another object
of its relation, phrased through an edit template), with their held-out
rephrasings as in-scope inputs, their hard out-of-scope questions, and random
questions about the edit-train split's entities (never scored as
out-of-scope inputs).
``evaluate()`` edits the base model once per held-out edit of the edit-test
split and reports edit success and drawdown (``meta.editing.metrics``).  The
base model (``meta.editing.base_model``) is frozen and saved in every
checkpoint, so a run directory is all ``python -m launch edit`` needs.
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from typing import ClassVar

import numpy as np
import torch

from envs.report import EvalReport
from meta.editing.base_model import base_model, knowledge_base, model_from_state, model_state
from meta.editing.baselines import unrelated_questions
from meta.editing.config import EditorConfig, MENDConfig, SERACConfig
from meta.editing.editor import EncodedEdits
from meta.editing.mend import MEND
from meta.editing.metrics import OutOfScope, score_single_edits
from meta.editing.serac import SERAC
from meta.saved_state import check_saved_learner

__all__ = ["EditorLearner", "build_learned_editor", "editor_from_state"]


def build_learned_editor(config: EditorConfig, base: torch.nn.Module, kb):
    """The untrained editor ``config`` describes, for ``base`` and ``kb`` 's vocabulary."""
    if isinstance(config, MENDConfig):
        return MEND(base, kb.vocab, kb.max_length, config.layers, rank=config.rank, edit_lr=config.edit_lr)
    if isinstance(config, SERACConfig):
        return SERAC(base, kb.vocab, kb.max_length, counterfactual_width=config.counterfactual_width)
    raise TypeError(f"EditorLearner takes a MENDConfig or SERACConfig, got {type(config).__name__}")


def editor_from_state(config: EditorConfig, state: dict):
    """(knowledge base, base model, trained editor) from an ``EditorLearner`` 's saved config and state."""
    kb = knowledge_base(config)
    base = model_from_state(state["base"]).requires_grad_(False)
    editor = build_learned_editor(config, base, kb)
    editor.load_state_dict(state["editor"])
    return kb, base, editor.eval()


class EditorLearner:
    unit: ClassVar[str] = "updates"
    default_budget: ClassVar[int] = 3000
    default_eval_every: ClassVar[int] = 1000

    def __init__(self, config: EditorConfig, *, device: torch.device, seed: int) -> None:
        self.config, self.device, self.seed = config, torch.device(device), seed
        self.kb = knowledge_base(config)
        self.base = base_model(config, self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.editor = build_learned_editor(config, self.base, self.kb).to(self.device)
        self.optimizer = torch.optim.Adam(self.editor.parameters(), lr=config.lr)
        self.rng = np.random.default_rng([seed, 0xED1])
        self.unrelated = unrelated_questions(self.kb).to(self.device)
        self.eval_cases = self.kb.edit_cases("edit-test", config.eval_edits, seed=0)
        self.out_of_scope = OutOfScope(self.kb, self.base)
        self.updates = 0

    @property
    def name(self) -> str:
        return self.editor.name.lower()

    def progress(self) -> int:
        return self.updates

    def _tensors(self, questions) -> torch.Tensor:
        return torch.from_numpy(self.kb.tokens(questions)).to(self.device)

    def _unrelated(self, per_edit: int) -> torch.Tensor:
        index = torch.from_numpy(self.rng.integers(len(self.unrelated), size=(self.config.edit_batch, per_edit)))
        return self.unrelated[index.to(self.device)]

    def step(self) -> dict[str, float]:
        cases = self.kb.edit_cases("edit-train", self.config.edit_batch, seed=[self.seed, self.updates])
        request = EncodedEdits(self._tensors([c.edit for c in cases]),
                               torch.tensor([self.kb.vocab.index[c.new_object] for c in cases], device=self.device))
        rephrased = self._tensors([q for c in cases for q in c.rephrasings]).view(len(cases), -1, self.kb.max_length)
        self.editor.train()
        if isinstance(self.editor, MEND):
            loss, metrics = self.editor.meta_loss(self.base, request, rephrased, self._unrelated(self.config.locality_batch),
                                                  self.config.edit_weight)
        else:
            hard = self._tensors([q for c in cases for q in c.hard_out_of_scope]).view(len(cases), -1, self.kb.max_length)
            negatives = torch.cat([hard, self._unrelated(self.config.negatives)], dim=1)
            loss, metrics = self.editor.meta_loss(request, rephrased, negatives)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.editor.parameters(), 1.0)
        self.optimizer.step()
        self.updates += 1
        return {"losses/loss": float(loss.detach()), **metrics}

    def evaluate(self) -> EvalReport:
        self.editor.eval()
        scores = score_single_edits(self.editor, self.base, self.kb, self.eval_cases, self.out_of_scope)
        report = EvalReport(title=f"{self.editor.name}: {len(self.eval_cases)} held-out single edits at update {self.updates}")
        report.add("single edits", **scores)
        return report

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {
            "learner": f"{type(self).__name__}:{self.name}", "config": asdict(self.config), "updates": self.updates,
            "editor": {k: v.detach().cpu().clone() for k, v in self.editor.state_dict().items()},
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "rng": copy.deepcopy(self.rng.bit_generator.state),
            "base": model_state(self.base),
        }

    def load_state_dict(self, state: dict) -> None:
        check_saved_learner(state, f"{type(self).__name__}:{self.name}", self.config)
        self.editor.load_state_dict(state["editor"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.updates = int(state["updates"])
