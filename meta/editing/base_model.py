"""The base model editors edit: a ``FactModel`` trained on every question of the knowledge base.

``BaseModelLearner`` trains it through the shared loop (``python -m launch
train edit-base``: one step, one Adam update on a random batch of questions;
the report gives accuracy per relation on the edit templates and on the
held-out rephrasing templates).  Editors need the same model without a run
directory, so ``base_model(config)`` trains it with this learner for
``base_updates`` updates and caches its weights (``$POLYTASK_CACHE``, else
``~/.cache/polytask``, keyed by every field that fixes it): the first editor
run pays a minute for it, later ones read it back.  Training is deterministic
given the config, so cached and fresh models are the same model.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from envs.report import EvalReport
from meta.editing.config import BaseModelConfig, EditingConfig
from meta.editing.fact_model import FactModel, FactModelShape
from meta.editing.knowledge import EDIT_TEMPLATES, KnowledgeBase
from meta.cache import cache_dir, write_atomically
from meta.saved_state import check_saved_learner

__all__ = ["BaseModelLearner", "base_model", "knowledge_base", "accuracy", "model_state", "model_from_state"]

#: bump when training or the model changes what a config builds, so stale caches are not read
BASE_VERSION = 1


def knowledge_base(config: EditingConfig) -> KnowledgeBase:
    return KnowledgeBase(config.knowledge(), config.data_seed)


def accuracy(model: torch.nn.Module, tokens: torch.Tensor, answers: torch.Tensor, chunk: int = 4096) -> float:
    """Fraction of ``tokens`` whose arg-max answer is ``answers`` (nan for no questions), on the model's device."""
    if len(tokens) == 0:
        return float("nan")
    device = next(model.parameters()).device
    tokens, answers = tokens.to(device), answers.to(device)
    with torch.no_grad():
        correct = sum(int((model(tokens[i:i + chunk]).argmax(-1) == answers[i:i + chunk]).sum())
                      for i in range(0, len(tokens), chunk))
    return correct / len(tokens)


class BaseModelLearner:
    unit: ClassVar[str] = "updates"
    default_budget: ClassVar[int] = EditingConfig.base_updates
    default_eval_every: ClassVar[int] = 1000

    def __init__(self, config: EditingConfig, *, device: torch.device, seed: int) -> None:
        self.config, self.device, self.seed = config, torch.device(device), seed
        self.kb = knowledge_base(config)
        questions = self.kb.questions()
        self.questions = questions
        self.tokens = torch.from_numpy(self.kb.tokens(questions)).to(self.device)
        self.answers = torch.from_numpy(self.kb.answer_tokens(questions)).to(self.device)
        shape = FactModelShape(len(self.kb.vocab), self.kb.max_length, config.width, config.depth, config.heads)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model = FactModel(shape).to(self.device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.base_lr, weight_decay=0.01)
        self.rng = np.random.default_rng([seed, 0xBA5E])
        self.updates = 0

    def progress(self) -> int:
        return self.updates

    def _lr(self) -> float:
        # cosine from base_lr to a tenth of it over base_updates, then flat
        done = min(self.updates / self.config.base_updates, 1.0)
        return self.config.base_lr * (0.1 + 0.45 * (1 + math.cos(math.pi * done)))

    def step(self) -> dict[str, float]:
        index = torch.from_numpy(self.rng.integers(len(self.tokens), size=self.config.base_batch)).to(self.device)
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr()
        self.model.train()
        loss = F.cross_entropy(self.model(self.tokens[index]), self.answers[index])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.updates += 1
        return {"losses/nll": float(loss.detach()), "charts/lr": self._lr()}

    def evaluate(self) -> EvalReport:
        self.model.eval()
        report = EvalReport(title=f"base model on the knowledge base ({len(self.questions)} questions) at update {self.updates}")
        templates = np.array([q.template for q in self.questions])
        relations = np.array([q.relation for q in self.questions])
        for r, relation in enumerate(self.kb.relations):
            row = {}
            for kind, chosen in (("edit_template_accuracy", templates < EDIT_TEMPLATES),
                                 ("rephrasing_accuracy", templates >= EDIT_TEMPLATES)):
                index = torch.from_numpy(np.flatnonzero(chosen & (relations == r))).to(self.device)
                row[kind] = accuracy(self.model, self.tokens[index], self.answers[index])
            report.add(relation.name, **row)
        report.add("all relations", accuracy=accuracy(self.model, self.tokens, self.answers))
        return report

    def state_dict(self) -> dict:
        return {
            "learner": type(self).__name__, "config": asdict(self.config), "updates": self.updates,
            "base": model_state(self.model),
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "rng": copy.deepcopy(self.rng.bit_generator.state),
        }

    def load_state_dict(self, state: dict) -> None:
        check_saved_learner(state, type(self).__name__, self.config)
        self.model.load_state_dict(state["base"]["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.updates = int(state["updates"])


def _cache_path(config: EditingConfig) -> Path:
    key = json.dumps({"version": BASE_VERSION, **config.base_fields()}, sort_keys=True)
    return cache_dir() / "editing" / f"base-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"


def model_state(model: FactModel) -> dict:
    """``{"shape": ..., "model": ...}``: what the cache, and every editing learner's ``state["base"]``, hold."""
    return {"shape": asdict(model.shape), "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}


def model_from_state(state: dict) -> FactModel:
    """A ``FactModel`` from a saved ``model_state``."""
    model = FactModel(FactModelShape(**state["shape"]))
    model.load_state_dict(state["model"])
    return model.eval()


def base_model(config: EditingConfig, device: torch.device | str = "cpu") -> FactModel:
    """The base model ``config`` fixes, frozen: read from the cache, else trained now and cached."""
    path = _cache_path(config)
    state = None
    if path.exists():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            state = None  # a damaged cache is rebuilt below
    if state is None:
        learner = BaseModelLearner(BaseModelConfig(**config.base_fields()), device=torch.device("cpu"), seed=config.base_seed)
        while learner.updates < config.base_updates:
            learner.step()
        state = model_state(learner.model)
        write_atomically(path, lambda file: torch.save(state, file))
    model = model_from_state(state).to(device)
    model.requires_grad_(False)
    return model
