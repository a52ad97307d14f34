"""The editors that learn nothing, built for a base model: FT, FT+KL and ROME.

Their unrelated questions (FT+KL's locality batches, ROME's key covariance)
come from the edit-train split's entities, as MEND's and SERAC's
meta-training do, so none of them sees the out-of-scope questions they are
scored on (``meta.editing.metrics.OutOfScope``: never-edited entities).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from meta.editing.config import MENDConfig
from meta.editing.finetune import FineTuneEditor
from meta.editing.knowledge import KnowledgeBase
from meta.editing.rome import ROMEEditor

__all__ = ["BASELINES", "build_baseline", "unrelated_questions"]

BASELINES = ("ft", "ft-kl", "rome")


def unrelated_questions(kb: KnowledgeBase) -> torch.Tensor:
    """Token ids of every question about the edit-train split's entities."""
    return torch.from_numpy(kb.tokens(kb.questions(kb.entity_split["edit-train"])))


def build_baseline(name: str, base: nn.Module, kb: KnowledgeBase, *, layers: Sequence[str] = MENDConfig.layers,
                   seed: int = 0):
    """``ft`` / ``ft-kl`` fine-tune ``layers`` (MEND's, by default); ``rome`` edits block 0's MLP."""
    if name == "ft":
        return FineTuneEditor(kb.vocab, kb.max_length, layers, seed=seed)
    if name == "ft-kl":
        return FineTuneEditor(kb.vocab, kb.max_length, layers, kl_weight=1.0, locality_tokens=unrelated_questions(kb), seed=seed)
    if name == "rome":
        subjects = [kb.vocab.index[entity] for entity in kb.entities]
        return ROMEEditor.fit(base, kb.vocab, kb.max_length, subjects, unrelated_questions(kb), layer=0)
    raise ValueError(f"unknown baseline editor {name!r}; baselines: {', '.join(BASELINES)}")
