"""The check every supervised learner's ``load_state_dict`` starts with: is this state mine?"""

from __future__ import annotations

from dataclasses import asdict

__all__ = ["check_saved_learner"]


def check_saved_learner(state: dict, learner: str, config) -> None:
    """Refuse a saved state of another learner, or of this learner with another config (a ValueError saying both).

    A field the saved config lacks was added to the config since; it matches
    while today's value is the field's default (a new field's default keeps
    the behaviour of the code before it, so a run saved then still resumes)."""
    saved, today = state.get("config"), asdict(config)
    if isinstance(saved, dict):
        defaults = asdict(type(config)())
        today = {key: value for key, value in today.items() if key in saved or value != defaults[key]}
    if state.get("learner") != learner or saved != today:
        raise ValueError(f"checkpoint is for {state.get('learner')} with config {state.get('config')}; "
                         f"this learner is {learner} with config {asdict(config)}")
