"""Checkpoint files: atomic writes, keep-last-K, and loud failures on files
that are corrupt, foreign, too new or do not fit the learner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from launch import checkpoint as ckpt
from launch.checkpoint import CheckpointError, latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from test_loop import run

PAYLOAD = {key: {} for key in ckpt.REQUIRED_KEYS if key not in ("format", "version")} | {"algorithm": "dummy"}
ROOT = Path(__file__).resolve().parents[1]


def test_keeps_the_newest_k_in_progress_order(tmp_path):
    for progress in (5, 100, 20, 7):
        save_checkpoint(PAYLOAD, ckpt.checkpoint_path(tmp_path, progress), keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint_000000000020.pt", "checkpoint_000000000100.pt"]
    assert latest_checkpoint(tmp_path).name == "checkpoint_000000000100.pt"
    assert not list(tmp_path.glob(".*tmp"))
    path, data = load_checkpoint(tmp_path)  # a run directory means its newest checkpoint
    assert path.name.endswith("100.pt") and data["version"] == ckpt.FORMAT_VERSION


def test_a_crash_while_saving_leaves_the_previous_checkpoints_intact(tmp_path, monkeypatch):
    first = save_checkpoint(PAYLOAD, ckpt.checkpoint_path(tmp_path, 1), keep=1)
    before = first.read_bytes()

    def torn_save(obj, handle):
        handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", torn_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(PAYLOAD, ckpt.checkpoint_path(tmp_path, 2), keep=1)
    assert list_checkpoints(tmp_path) == [first] and first.read_bytes() == before
    assert not list(tmp_path.glob(".*tmp"))


def test_temp_files_of_a_killed_save_are_ignored_and_cleaned(tmp_path):
    save_checkpoint(PAYLOAD, ckpt.checkpoint_path(tmp_path, 3), keep=3)
    stale = tmp_path / ".checkpoint_000000000009.pt.4242.tmp"
    stale.write_bytes(b"torn")
    assert latest_checkpoint(tmp_path).name == "checkpoint_000000000003.pt"
    ckpt.remove_stale_temp_files(tmp_path)
    assert not stale.exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "corrupt or truncated"),
        ("foreign", "not a polytask checkpoint"),
        ("newer", "newer than this code's"),
        ("incomplete", "lacks algorithm_config, run_config, algorithm_state, loop"),
    ],
)
def test_unusable_files_raise_saying_why(tmp_path, content, message):
    path = tmp_path / "checkpoint_000000000001.pt"
    if content is None:
        good = save_checkpoint(PAYLOAD, tmp_path / "good.pt", keep=5)
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif content == "newer":
        torch.save({**PAYLOAD, "format": ckpt.FORMAT, "version": ckpt.FORMAT_VERSION + 1}, path)
    elif content == "foreign":  # e.g. a bare model state_dict
        torch.save({"weight": torch.zeros(3)}, path)
    else:  # incomplete
        torch.save({"format": ckpt.FORMAT, "version": ckpt.FORMAT_VERSION, "algorithm": "dummy"}, path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_missing_paths_say_what_was_expected(tmp_path):
    with pytest.raises(CheckpointError, match="expected a checkpoint_.*pt file or a run directory"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        load_checkpoint(tmp_path)


def test_resume_from_a_corrupt_checkpoint_errors_instead_of_starting_fresh(tmp_path):
    result = run(tmp_path, budget=4)
    result.checkpoint.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        run(tmp_path, budget=8, resume="auto")


def test_state_that_does_not_fit_the_learner_is_reported(tmp_path):
    result = run(tmp_path, budget=4)
    data = torch.load(result.checkpoint, weights_only=False)
    data["algorithm_state"]["weights"] = torch.zeros(5, 4)
    torch.save(data, result.checkpoint)
    with pytest.raises(CheckpointError, match=r"state does not fit this dummy: weights of shape \(5, 4\)"):
        run(tmp_path, budget=8, resume="auto")


def test_cli_eval_of_a_corrupt_checkpoint_exits_2_with_the_reason(tmp_path):
    bad = tmp_path / "checkpoint_000000000001.pt"
    bad.write_bytes(b"not a checkpoint")
    done = subprocess.run([sys.executable, "-m", "launch", "eval", str(bad)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2
    assert "not a readable checkpoint (corrupt or truncated?)" in done.stderr and "Traceback" not in done.stderr
