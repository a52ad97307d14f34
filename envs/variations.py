"""Variations: what a user names, and the seeds behind them.

A task's *variation* is where its objects and goal start (and, when enabled,
its dynamics): everything ``reset_task`` draws. Each task has
``VARIATIONS_PER_TASK`` seeded variations per split, train and held-out test,
derived from the task's name, so MT1("reach"), MT10 and ML10 agree on them.

One word, one meaning: wherever a user passes a ``variation`` (reset options,
``launch render --variation``), it is an *index* into a split's variations,
``0 <= variation < 50``. A raw seed, any integer, goes under its own name,
``variation_seed``.
"""

from __future__ import annotations

import functools
import zlib
from typing import Any

import numpy as np

VARIATIONS_PER_TASK = 50
SPLITS = ("train", "test")
#: the reset options that choose a variation
VARIATION_OPTIONS = ("variation", "variation_seed", "split")


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    return split


@functools.lru_cache(maxsize=4096)
def variation_seeds(task: str, split: str, count: int = VARIATIONS_PER_TASK) -> tuple[int, ...]:
    """The ``count`` seeds behind ``task``'s variations in ``split`` (train and test never overlap)."""
    check_split(split)
    entropy = [zlib.crc32(task.encode()), SPLITS.index(split)]
    seeds = np.random.SeedSequence(entropy).generate_state(count, dtype=np.uint32)
    return tuple(int(s) * 2 + SPLITS.index(split) for s in seeds)  # parity keeps the splits disjoint


def check_index(variation: Any, count: int, where: str) -> int:
    """``variation`` as an index into ``count`` variations, or a ValueError saying what is accepted."""
    if isinstance(variation, bool) or not isinstance(variation, (int, np.integer)):
        raise TypeError(f"variation must be an int index in [0, {count}) or None, got {variation!r}; "
                        "a raw seed goes under 'variation_seed'")
    if not 0 <= variation < count:
        raise ValueError(f"variation {int(variation)} is out of range: {where} has {count} variations (0-{count - 1}); "
                         "a raw seed goes under 'variation_seed'")
    return int(variation)


def check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"variation_seed must be a non-negative int or None, got {seed!r}")
    return int(seed)


def parse_variation_options(options: dict[str, Any], accepted: tuple[str, ...]) -> dict[str, Any]:
    """The variation options among ``options``, after refusing any key not in ``accepted``.

    ``variation`` and ``variation_seed`` exclude each other; ``split`` goes with ``variation``.
    """
    unknown = set(options) - set(accepted)
    if unknown:
        raise ValueError(f"unknown reset options {sorted(unknown)}; accepted: {', '.join(repr(a) for a in accepted)}")
    chosen = {key: options[key] for key in VARIATION_OPTIONS if key in options}
    if chosen.get("variation") is not None and chosen.get("variation_seed") is not None:
        raise ValueError("pass either 'variation' (an index into a split's variations) or 'variation_seed' (a raw seed), not both")
    if "split" in chosen:
        check_split(chosen["split"])
    return chosen
