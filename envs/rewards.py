"""Reward shaping primitives, vectorized over any leading batch axes.

``tolerance`` follows dm_control's ``rewards.tolerance`` (Tassa et al., 2018):
1 inside ``bounds``, decaying with the distance outside them so that it equals
``value_at_margin`` at ``margin``. ``hamacher_product`` is the fuzzy AND that
Meta-World v2 uses to combine reward terms (Yu et al., 2019, rewards v2).
All functions take numpy arrays (or floats) and broadcast, so the batched
simulator evaluates a whole group of worlds in one call.
"""

from __future__ import annotations

import math

import numpy as np


def _scalar(*values) -> bool:
    """True when every value is a plain or numpy float: the single-env case.

    There each helper below takes a ``math`` path, because numpy's per-call
    cost on 0-d values is ten to a hundred times the arithmetic. Both paths
    compute the same formula.
    """
    for value in values:
        if not isinstance(value, float):
            return False
    return True


def _sigmoid(x: np.ndarray, value_at_margin: float, kind: str) -> np.ndarray:
    if kind == "gaussian":
        scale = math.sqrt(-2.0 * math.log(value_at_margin))
        return math.exp(-0.5 * (x * scale) ** 2) if _scalar(x) else np.exp(-0.5 * (x * scale) ** 2)
    if kind == "long_tail":
        scale = math.sqrt(1.0 / value_at_margin - 1.0)
        return 1.0 / ((x * scale) ** 2 + 1.0)
    if kind == "linear":
        scaled = x * (1.0 - value_at_margin)
        if _scalar(scaled):
            return 1.0 - scaled if abs(scaled) < 1.0 else 0.0
        return np.where(np.abs(scaled) < 1.0, 1.0 - scaled, 0.0)
    raise ValueError(f"unknown sigmoid {kind!r}; expected 'gaussian', 'long_tail' or 'linear'")


def tolerance(x, bounds=(0.0, 0.0), margin=0.0, sigmoid="long_tail", value_at_margin=0.1):
    """1 where ``bounds[0] <= x <= bounds[1]``, else a sigmoid of the distance / margin."""
    lower, upper = bounds
    if lower > upper:
        raise ValueError(f"tolerance bounds must be ordered, got {bounds}")
    if margin < 0:
        raise ValueError(f"tolerance margin must be >= 0, got {margin}")
    if _scalar(x):
        if lower <= x <= upper:
            return 1.0
        if margin == 0:
            return 0.0
        return float(_sigmoid((lower - x if x < lower else x - upper) / margin, value_at_margin, sigmoid))
    x = np.asarray(x, dtype=np.float64)
    in_bounds = (lower <= x) & (x <= upper)
    if margin == 0:
        return np.where(in_bounds, 1.0, 0.0)
    distance = np.where(x < lower, lower - x, x - upper) / margin
    return np.where(in_bounds, 1.0, _sigmoid(distance, value_at_margin, sigmoid))


def hamacher_product(a, b):
    """Fuzzy AND of two values in [0, 1]: a*b / (a + b - a*b), and 0 where both are 0."""
    if _scalar(a, b):
        denominator = a + b - a * b
        return a * b / denominator if denominator > 0 else 0.0
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    denominator = a + b - a * b
    return np.where(denominator > 0, a * b / np.where(denominator > 0, denominator, 1.0), 0.0)


def norm(v):
    """Euclidean norm along the last axis (a float for a 1-d ``v``)."""
    if type(v) is not np.ndarray:
        v = np.asarray(v)
    if v.ndim == 1:
        # on a few plain floats: a tenth of the cost of numpy's dot product
        return math.hypot(*v.tolist())
    return np.linalg.norm(v, axis=-1)


def distance(a, b):
    """Euclidean distance along the last axis (a float for 1-d points)."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 1 and b.ndim == 1:
        return math.dist(a.tolist(), b.tolist())
    return norm(np.subtract(a, b))


def select(condition, if_true, if_false):
    """``np.where`` that stays a plain float when ``condition`` is a single bool."""
    if isinstance(condition, (bool, np.bool_)) and _scalar(if_true, if_false):
        return if_true if condition else if_false
    return np.where(condition, if_true, if_false)


def clip(x, low: float, high: float):
    """``np.clip`` that stays a plain float for a float ``x``."""
    if _scalar(x):
        return min(max(x, low), high)
    return np.clip(x, low, high)


def closeness(dist, initial_dist, tight: float):
    """Long-tail reward for bringing ``dist`` from ``initial_dist`` down to ``tight``."""
    if _scalar(initial_dist):
        margin = max(initial_dist - tight, 1e-6)
    else:
        margin = np.maximum(np.asarray(initial_dist, dtype=np.float64) - tight, 1e-6)
    return tolerance_margin_array(dist, (0.0, tight), margin)


def tolerance_margin_array(x, bounds, margin):
    """``tolerance`` with a per-element (array) margin and the long-tail sigmoid."""
    lower, upper = bounds
    if _scalar(x, margin):
        if lower <= x <= upper:
            return 1.0
        d = (lower - x if x < lower else x - upper) / margin
        return 1.0 / ((d * 3.0) ** 2 + 1.0)
    x = np.asarray(x, dtype=np.float64)
    margin = np.asarray(margin, dtype=np.float64)
    in_bounds = (lower <= x) & (x <= upper)
    d = np.where(x < lower, lower - x, x - upper) / margin
    return np.where(in_bounds, 1.0, 1.0 / ((d * 3.0) ** 2 + 1.0))


def grasp_reward(hand_to_obj, gripper_opening, object_radius: float, reach_margin: float = 0.3):
    """How well the hand cages an object: near it, fingers closed around it.

    ``hand_to_obj`` is the TCP's distance to the object's grasp point. 1 when
    it is within ``object_radius`` and the gripper opening is near the
    object's width; decays with distance otherwise.
    """
    near = tolerance(hand_to_obj, (0.0, object_radius), reach_margin, "long_tail")
    if _scalar(gripper_opening, hand_to_obj):
        closed = 1.0 - min(max(float(gripper_opening), 0.0), 1.0)
        return hamacher_product(near, 0.5 + 0.5 * closed if hand_to_obj < 2 * object_radius else 0.5)
    closed = 1.0 - np.clip(np.asarray(gripper_opening, dtype=np.float64), 0.0, 1.0)
    return hamacher_product(near, 0.5 + 0.5 * closed * (hand_to_obj < 2 * object_radius))
