"""Dynamics variation: masses, friction and damping scaled at every reset (off by default)."""

from __future__ import annotations

import dataclasses
from typing import Any

import mujoco
import numpy as np

#: the model arrays dynamics variation scales
SCALED_FIELDS = ("body_mass", "body_inertia", "geom_friction", "dof_damping")


@dataclasses.dataclass(frozen=True)
class DynamicsVariation:
    """Ranges of multiplicative scales drawn at every reset (off by default).

    Each field is ``(low, high)``; ``(1, 1)`` leaves that quantity alone. Masses
    and damping apply to the task's objects (not the gripper); friction to
    every geom of the task's objects and the table.
    """

    mass_scale: tuple[float, float] = (1.0, 1.0)
    friction_scale: tuple[float, float] = (1.0, 1.0)
    damping_scale: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self):
        for field in dataclasses.fields(self):
            low, high = getattr(self, field.name)
            if not 0 < low <= high:
                raise ValueError(f"DynamicsVariation.{field.name} must satisfy 0 < low <= high, got {(low, high)}")


def nominal(model: mujoco.MjModel) -> dict[str, np.ndarray]:
    """The model's unscaled arrays, which every reset scales afresh."""
    return {name: getattr(model, name).copy() for name in SCALED_FIELDS}


def apply(variation: DynamicsVariation, model: mujoco.MjModel, unscaled: dict[str, np.ndarray], ids: dict[str, Any],
          rng: np.random.Generator) -> None:
    """Draw this episode's scales from ``rng`` and write the scaled arrays into ``model``."""
    mass = rng.uniform(*variation.mass_scale)
    friction = rng.uniform(*variation.friction_scale)
    damping = rng.uniform(*variation.damping_scale)
    for name in SCALED_FIELDS:
        getattr(model, name)[:] = unscaled[name]
    if len(ids["object_bodies"]):
        model.body_mass[ids["object_bodies"]] *= mass
        model.body_inertia[ids["object_bodies"]] *= mass
    model.geom_friction[ids["object_geoms"], 0] *= friction
    model.dof_damping[ids["object_dofs"]] *= damping
