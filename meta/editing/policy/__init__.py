"""Editing a trained multi-task policy: a behaviour change in a region of one task's states (see ``behaviour``)."""
