"""The check every supervised learner's ``load_state_dict`` starts with: is this state mine?"""

from __future__ import annotations

from dataclasses import asdict

__all__ = ["check_saved_learner"]


def check_saved_learner(state: dict, learner: str, config) -> None:
    """Refuse a saved state of another learner, or of this learner with another config (a ValueError saying both)."""
    if state.get("learner") != learner or state.get("config") != asdict(config):
        raise ValueError(f"checkpoint is for {state.get('learner')} with config {state.get('config')}; "
                         f"this learner is {learner} with config {asdict(config)}")
