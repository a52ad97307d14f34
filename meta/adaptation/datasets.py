"""Group-shift datasets built from scikit-learn's bundled digits, deterministic from a seed.

ARM (Zhang et al., NeurIPS 2021) evaluates on data whose test distribution
is a set of *groups* (a rotation, a corruption, a writer) with little or no
weight at training time.  Nothing may be downloaded here, so every dataset is
made from ``sklearn.datasets.load_digits`` (1,797 8x8 digits, shipped with the
package), upsampled to 16x16 (``shifts.upsample``).  The digits are split
once per seed into disjoint train / val / test sources (60 / 20 / 20%);
every example of a split is a transformed copy of one of its own sources.

* ``rotated-digits``: 14 groups rotated 0-130 degrees in 10-degree steps
  (ARM's rotated MNIST).  Training is skewed as the ARM repo skews it
  (``data/static_mnist_unknown.py``: group weights 0.70 for 0-20 degrees, 0.20
  for 30-50, 0.06 for 60-80, 0.03 for 90-110, 0.01 for 120-130): a group of
  weight p holds p x 1,078 distinct train sources (755, 216, 65, 32 and 11
  digits; 3,226 in all, so each of the rarest groups is 0.34% of training,
  the repo's 0.33%).  The repo draws p x 54,000 / 5 with replacement from
  MNIST's 54,000; its /5 would leave our rarest groups 2 digits, fewer than a
  sub-batch, so ours keeps its proportions, not its division.
  Val and test hold every source of their split in every group (uniform).
* ``digits-c``: CIFAR-10-C's protocol (Hendrycks & Dietterich, ICLR 2019) on
  digits: corruption type x severity 1-5 is a group; training and validation
  use 10 types (50 groups, 250 / 100 examples each), testing 4 other types
  (20 groups, every test source in each): the test corruptions are never seen.
* ``writers``: a FEMNIST analogue: each writer has a slant, size, stroke
  width and ink (``shifts.WriterStyle``) and writes 60 digits; 120 train, 20
  val and 40 test writers, all distinct.

The first build of a (dataset, seed) is written to a cache (``.npz`` under
``$POLYTASK_CACHE``, else ``~/.cache/polytask``) and read back afterwards;
images are stored as 8-bit intensities, and a fresh build is quantized the
same way, so cached and fresh data are identical.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs.registry import unknown_name_error
from meta.adaptation import shifts
from meta.cache import cache_dir, write_atomically

__all__ = ["DATASETS", "GroupShiftData", "GroupSplit", "load_dataset", "digit_sources"]

#: bump when a builder changes what it makes, so stale caches are not read
DATA_VERSION = 2
SPLITS = ("train", "val", "test")
ROTATIONS = tuple(range(0, 140, 10))
#: each rotation's weight in the training data (the ARM repo's ``group_probs``)
ROTATION_TRAIN_WEIGHTS = (0.70,) * 3 + (0.20,) * 3 + (0.06,) * 3 + (0.03,) * 3 + (0.01,) * 2
DIGITS_C_TRAIN = ("gaussian_noise", "impulse_noise", "gaussian_blur", "defocus_blur", "contrast",
                  "brightness", "pixelate", "jpeg", "elastic", "spatter")
DIGITS_C_TEST = ("shot_noise", "motion_blur", "fog", "zoom")


@dataclass(frozen=True)
class GroupSplit:
    """One split: images (N, 16, 16) float32 in [0, 1], labels (N,), group ids (N,) into ``names``,
    and ``sources`` (N,), the index of the original digit in ``load_digits``."""

    images: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    names: tuple[str, ...]
    sources: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_groups(self) -> int:
        return len(self.names)

    def counts(self) -> np.ndarray:
        """Examples per group, shape (num_groups,)."""
        return np.bincount(self.groups, minlength=self.num_groups)


@dataclass(frozen=True)
class GroupShiftData:
    name: str
    seed: int
    train: GroupSplit
    val: GroupSplit
    test: GroupSplit

    def split(self, name: str) -> GroupSplit:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return getattr(self, name)


def digit_sources(seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(16x16 images, labels, {split: source indices}) of the digits, split 60 / 20 / 20 by ``seed``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError(
            "the group-shift datasets are built from scikit-learn's bundled digits: pip install 'polytask[supervised]'"
        ) from error
    digits = load_digits()
    images = shifts.upsample(digits.images)
    order = np.random.default_rng([seed, 0]).permutation(len(images))
    train_end, val_end = int(0.6 * len(order)), int(0.8 * len(order))
    return images, digits.target.astype(np.int64), {
        "train": np.sort(order[:train_end]), "val": np.sort(order[train_end:val_end]), "test": np.sort(order[val_end:])
    }


def _assemble(parts: list[tuple[str, np.ndarray, np.ndarray]], labels: np.ndarray) -> GroupSplit:
    """A split from (group name, source indices, transformed images) triples, one per group."""
    names = tuple(name for name, _, _ in parts)
    sources = np.concatenate([s for _, s, _ in parts])
    return GroupSplit(
        images=np.concatenate([im for _, _, im in parts]).astype(np.float32),
        labels=labels[sources],
        groups=np.concatenate([np.full(len(s), g, np.int64) for g, (_, s, _) in enumerate(parts)]),
        names=names,
        sources=sources,
    )


def _subset(sources: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(sources, size=min(count, len(sources)), replace=False))


def build_rotated_digits(seed: int) -> GroupShiftData:
    images, labels, sources = digit_sources(seed)
    splits = {}
    for split in SPLITS:
        parts = []
        for g, degrees in enumerate(ROTATIONS):
            chosen = sources[split]
            if split == "train":
                rng = np.random.default_rng([seed, 1, g])
                chosen = _subset(chosen, round(ROTATION_TRAIN_WEIGHTS[g] * len(chosen)), rng)
            parts.append((f"{degrees}deg", chosen, shifts.rotate(images[chosen], degrees)))
        splits[split] = _assemble(parts, labels)
    return GroupShiftData("rotated-digits", seed, **splits)


def build_digits_c(seed: int) -> GroupShiftData:
    images, labels, sources = digit_sources(seed)
    plan = {"train": (DIGITS_C_TRAIN, 250), "val": (DIGITS_C_TRAIN, 100), "test": (DIGITS_C_TEST, None)}
    splits = {}
    for s, (split, (types, per_group)) in enumerate(plan.items()):
        parts = []
        for t, corruption in enumerate(types):
            for severity in range(1, shifts.SEVERITIES + 1):
                rng = np.random.default_rng([seed, 2, s, t, severity])
                chosen = sources[split] if per_group is None else _subset(sources[split], per_group, rng)
                parts.append((f"{corruption}-{severity}", chosen, shifts.corrupt(images[chosen], corruption, severity, rng)))
        splits[split] = _assemble(parts, labels)
    return GroupShiftData("digits-c", seed, **splits)


def build_writers(seed: int, per_writer: int = 60) -> GroupShiftData:
    images, labels, sources = digit_sources(seed)
    writers = {"train": 120, "val": 20, "test": 40}
    splits = {}
    for s, split in enumerate(SPLITS):
        parts = []
        for w in range(writers[split]):
            rng = np.random.default_rng([seed, 3, s, w])
            style = shifts.WriterStyle(rng)
            chosen = _subset(sources[split], per_writer, rng)
            parts.append((f"{split}-writer-{w}", chosen, shifts.writer_style(images[chosen], style)))
        splits[split] = _assemble(parts, labels)
    return GroupShiftData("writers", seed, **splits)


DATASETS: dict[str, Callable[[int], GroupShiftData]] = {
    "rotated-digits": build_rotated_digits,
    "digits-c": build_digits_c,
    "writers": build_writers,
}


def check_dataset_name(name: str) -> None:
    if name not in DATASETS:
        raise unknown_name_error("dataset", name, DATASETS)


def load_dataset(name: str, seed: int = 0, *, cache: Path | None = None) -> GroupShiftData:
    """Dataset ``name`` built from ``seed``: read from the cache, else built, quantized and cached."""
    check_dataset_name(name)
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"data seed must be a non-negative integer, got {seed!r}")
    path = (cache or cache_dir()) / "group-shift" / f"{name}-v{DATA_VERSION}-seed{seed}.npz"
    if path.exists():
        try:
            return _read(path, name, seed)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt below
    data = _quantized(DATASETS[name](seed))
    _write(path, data)
    return data


def _quantized(data: GroupShiftData) -> GroupShiftData:
    def q(split: GroupSplit) -> GroupSplit:
        images = np.round(np.clip(split.images, 0, 1) * 255).astype(np.uint8).astype(np.float32) / 255
        return GroupSplit(images, split.labels, split.groups, split.names, split.sources)

    return GroupShiftData(data.name, data.seed, q(data.train), q(data.val), q(data.test))


def _write(path: Path, data: GroupShiftData) -> None:
    arrays = {}
    for split in SPLITS:
        part = data.split(split)
        arrays.update({
            f"{split}_images": np.round(part.images * 255).astype(np.uint8), f"{split}_labels": part.labels,
            f"{split}_groups": part.groups, f"{split}_names": np.array(part.names), f"{split}_sources": part.sources,
        })
    write_atomically(path, lambda file: np.savez_compressed(file, **arrays))


def _read(path: Path, name: str, seed: int) -> GroupShiftData:
    with np.load(path) as stored:
        splits = {
            split: GroupSplit(
                stored[f"{split}_images"].astype(np.float32) / 255, stored[f"{split}_labels"],
                stored[f"{split}_groups"], tuple(str(n) for n in stored[f"{split}_names"]), stored[f"{split}_sources"],
            )
            for split in SPLITS
        }
    return GroupShiftData(name, seed, **splits)
