"""The configs of model editing: the knowledge base and base model every editor shares, and each learner's own."""

from __future__ import annotations

from dataclasses import dataclass

from meta.editing.knowledge import KnowledgeConfig

__all__ = ["EditingConfig", "BaseModelConfig", "MENDConfig", "SERACConfig"]


@dataclass(frozen=True)
class EditingConfig:
    """The knowledge base and the base model that learns it (one fixed base model across editor seeds)."""

    entities: int = 1800
    """made-up entities of the knowledge base, each with one object per relation"""
    relations: int = 6
    """relations of the knowledge base (at most 6)"""
    edit_train_entities: int = 500
    """entities whose facts editors meta-train on"""
    edit_test_entities: int = 500
    """entities whose facts are the held-out edits editors are scored on"""
    data_seed: int = 0
    """seed the knowledge base is generated from"""
    width: int = 64
    """base model: width of the residual stream"""
    depth: int = 2
    """base model: transformer blocks"""
    heads: int = 4
    """base model: attention heads"""
    base_updates: int = 2500
    """base model: Adam updates it is trained for (when it is built rather than read from the cache)"""
    base_lr: float = 3e-3
    """base model: Adam learning rate (cosine-decayed to a tenth over ``base_updates``)"""
    base_batch: int = 256
    """base model: questions per update"""
    base_seed: int = 0
    """base model: seed of its initialisation and batches"""

    def __post_init__(self) -> None:
        self.knowledge()  # checks the knowledge base's fields
        for name in ("width", "depth", "heads", "base_updates", "base_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be a multiple of heads ({self.heads})")
        if not self.base_lr > 0:
            raise ValueError(f"base_lr must be positive, got {self.base_lr}")

    def knowledge(self) -> KnowledgeConfig:
        return KnowledgeConfig(self.entities, self.relations, self.edit_train_entities, self.edit_test_entities)

    def base_fields(self) -> dict:
        """The fields that fix the base model (its cache key)."""
        return {name: getattr(self, name) for name in EditingConfig.__dataclass_fields__}


@dataclass(frozen=True)
class BaseModelConfig(EditingConfig):
    """Train the base model through the loop (``python -m launch train edit-base``): one step is one update."""


@dataclass(frozen=True)
class EditorConfig(EditingConfig):
    """Settings every meta-trained editor shares."""

    edit_batch: int = 16
    """edits per meta-training update (each applied on its own to the base model)"""
    locality_batch: int = 32
    """out-of-scope questions per edit in the locality term"""
    lr: float = 1e-3
    """Adam learning rate of the editor's parameters"""
    eval_edits: int = 200
    """held-out single edits each evaluation scores"""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("edit_batch", "locality_batch", "eval_edits"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name, split in (("edit_batch", "edit_train_entities"), ("eval_edits", "edit_test_entities")):
            facts = getattr(self, split) * self.relations
            if getattr(self, name) > facts:
                raise ValueError(f"{name} ({getattr(self, name)}) exceeds the {facts} facts of {split} x relations")


@dataclass(frozen=True)
class MENDConfig(EditorConfig):
    """MEND (Mitchell et al., ICLR 2022): an editor network turns each edit's rank-one gradient into the update."""

    layers: tuple[str, ...] = ("blocks.1.mlp.fc_in.weight", "blocks.1.mlp.fc_out.weight")
    """base-model weights MEND edits (its paper: the MLP weights of the last blocks)"""
    rank: int = 64
    """rank of the editor MLP's low-rank factors"""
    edit_lr: float = 1e-2
    """initial per-layer edit rate alpha (learned)"""
    edit_weight: float = 0.1
    """c_edit: weight of the rephrased edit's NLL beside the locality KL (the paper's 0.1)"""
    lr: float = 3e-3
    """Adam learning rate of the editor networks and edit rates (3e-3 edited better than 1e-3 here)"""


@dataclass(frozen=True)
class SERACConfig(EditorConfig):
    """SERAC (Mitchell et al., ICML 2022): a scope classifier and a counterfactual model over an edit memory."""

    counterfactual_width: int = 96
    """width of the counterfactual model"""
    negatives: int = 8
    """random out-of-scope questions per edit in the scope classifier's loss, beside its hard ones"""
