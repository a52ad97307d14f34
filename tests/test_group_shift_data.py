"""The group-shift datasets, their shifts and the batch samplers (meta.adaptation.datasets, shifts, batches)."""

from __future__ import annotations

import numpy as np
import pytest

from meta.adaptation import shifts
from meta.adaptation.batches import GroupSampler, evaluation_batches
from meta.adaptation.datasets import DATASETS, ROTATIONS, DIGITS_C_TEST, DIGITS_C_TRAIN, load_dataset


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_dataset_is_identical_for_a_seed_cached_or_fresh_and_its_splits_share_no_digit(name, cache):
    fresh = load_dataset(name, 0, cache=cache)
    cached = load_dataset(name, 0, cache=cache)
    assert (cache / "group-shift").is_dir() and any((cache / "group-shift").iterdir())
    for split in ("train", "val", "test"):
        a, b = fresh.split(split), cached.split(split)
        np.testing.assert_array_equal(a.images, b.images)
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.groups, b.groups)
        assert a.names == b.names
        assert a.images.shape == (len(a), 16, 16) and a.images.dtype == np.float32
        assert 0 <= a.images.min() and a.images.max() <= 1
        assert (a.counts() > 0).all(), "every group has examples"
    sources = {split: set(fresh.split(split).sources.tolist()) for split in ("train", "val", "test")}
    assert not sources["train"] & sources["val"] and not sources["train"] & sources["test"]
    assert not sources["val"] & sources["test"]
    other = load_dataset(name, 1, cache=cache)
    assert not np.array_equal(other.train.sources[:50], fresh.train.sources[:50]), "another seed splits differently"


def test_rotated_digits_are_skewed_in_training_and_uniform_at_test(cache):
    data = load_dataset("rotated-digits", 0, cache=cache)
    assert data.train.names == tuple(f"{d}deg" for d in ROTATIONS) == data.test.names
    counts = data.train.counts()  # the ARM repo's group weights (0.7, 0.2, 0.06, 0.03, 0.01) of 1,078 train digits
    assert counts.tolist() == [755] * 3 + [216] * 3 + [65] * 3 + [32] * 3 + [11] * 2
    assert all(len(set(data.train.sources[data.train.groups == g].tolist())) == n for g, n in enumerate(counts))
    assert len(set(data.test.counts().tolist())) == 1 and len(set(data.val.counts().tolist())) == 1
    # a group is its sources rotated: the 0-degree copy of a digit rotated by 90 is the 90-degree copy
    test = data.test
    first = np.flatnonzero(test.groups == 0)[:5]
    ninety = np.flatnonzero(test.groups == ROTATIONS.index(90))[:5]
    np.testing.assert_array_equal(test.sources[first], test.sources[ninety])
    np.testing.assert_allclose(np.rot90(test.images[first], 1, axes=(1, 2)), test.images[ninety], atol=2 / 255)


def test_digits_c_tests_on_corruptions_it_never_trains_on(cache):
    data = load_dataset("digits-c", 0, cache=cache)
    train_types = {name.rsplit("-", 1)[0] for name in data.train.names}
    test_types = {name.rsplit("-", 1)[0] for name in data.test.names}
    assert train_types == set(DIGITS_C_TRAIN) and test_types == set(DIGITS_C_TEST) and not train_types & test_types
    assert data.train.num_groups == 50 and data.test.num_groups == 20
    assert set(DIGITS_C_TRAIN) | set(DIGITS_C_TEST) == set(shifts.CORRUPTIONS)


@pytest.mark.parametrize("corruption", sorted(shifts.CORRUPTIONS))
def test_every_corruption_grows_with_its_severity(corruption):
    images = shifts.upsample(np.random.default_rng(0).integers(0, 17, (20, 8, 8)))
    change = [np.abs(shifts.corrupt(images, corruption, s, np.random.default_rng(1)) - images).mean() for s in (1, 5)]
    assert 0 < change[0] < change[1], change
    with pytest.raises(ValueError, match="severity must be in 1..5"):
        shifts.corrupt(images, corruption, 6, np.random.default_rng(1))


def test_writers_are_distinct_people_in_every_split(cache):
    data = load_dataset("writers", 0, cache=cache)
    names = [set(data.split(s).names) for s in ("train", "val", "test")]
    assert not names[0] & names[1] and not names[0] & names[2] and not names[1] & names[2]
    assert (data.test.counts() == 60).all()


def test_unknown_dataset_names_the_close_match(cache):
    with pytest.raises(ValueError, match="unknown dataset 'rotated-digit'. Did you mean 'rotated-digits'"):
        load_dataset("rotated-digit", 0, cache=cache)


def test_group_sub_batches_hold_one_group_each_and_uniform_sampling_balances_groups():
    groups = np.repeat(np.arange(4), [400, 40, 40, 20])
    sampler = GroupSampler(groups, ("a", "b", "c", "d"), np.random.default_rng(0))
    for _ in range(20):
        batch = sampler.sample("groups", 3, 10)
        assert batch.shape == (3, 10)
        for row in batch:
            assert len(set(groups[row].tolist())) == 1 and len(set(row.tolist())) == 10
    uniform = np.bincount(groups[sampler.sample("uniform", 100, 40).ravel()], minlength=4) / 4000
    natural = np.bincount(groups[sampler.sample("examples", 100, 40).ravel()], minlength=4) / 4000
    np.testing.assert_allclose(uniform, 0.25, atol=0.03)
    np.testing.assert_allclose(natural, [0.8, 0.08, 0.08, 0.04], atol=0.03)


def test_a_group_smaller_than_a_sub_batch_is_drawn_with_replacement_and_an_empty_group_is_a_clear_error():
    groups = np.repeat(np.arange(3), [100, 30, 12])
    sampler = GroupSampler(groups, ("a", "b", "c"), np.random.default_rng(0))
    rows = sampler.sample("groups", 60, 20)
    small = [row for row in rows if groups[row[0]] == 2]
    large = [row for row in rows if groups[row[0]] != 2]
    assert small and large and all(len(set(groups[row].tolist())) == 1 for row in rows)
    assert all(set(row.tolist()) <= set(np.flatnonzero(groups == 2).tolist()) and len(set(row.tolist())) < 20 for row in small)
    assert all(len(set(row.tolist())) == 20 for row in large)  # distinct wherever the group allows
    with pytest.raises(ValueError, match="group\\(s\\) c have no examples"):
        GroupSampler(np.repeat(np.arange(2), [5, 5]), ("a", "b", "c"), np.random.default_rng(0))


def test_evaluation_batches_cover_every_example_once_within_one_group():
    groups = np.repeat(np.arange(3), [120, 50, 7])
    batches = evaluation_batches(groups, 3, 50)
    covered = np.concatenate([index for _, index in batches])
    assert sorted(covered.tolist()) == list(range(len(groups)))
    assert all(len(index) <= 50 and (groups[index] == g).all() for g, index in batches)
    assert [len(index) for g, index in batches if g == 0] == [40, 40, 40], "near-equal, not 50 + 50 + 20"
