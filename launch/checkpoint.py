"""Checkpoint files: atomic writes, keep-last-K, checksums, and loading that fails loudly.

A checkpoint is a ``torch.save`` file of one dict: the format marker and
version, the algorithm's name and config, the env and run configs, the
algorithm's ``state_dict()`` and the loop's state (progress, schedule, global
RNG states). ``torch.save`` writes a zip archive whose members each carry a
CRC-32 of their bytes, but ``torch.load`` never checks them: a flipped byte
deep inside a replay buffer loads and resumes without a word. Loading here
checks every member's checksum first (``zipfile``'s ``testzip``), so a
damaged file is refused; the file stays one ``torch.load`` reads as is.
Checkpoints are pickles: load only files you trust.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import torch

from launch.errors import UsageError

FORMAT = "polytask-checkpoint"
#: bump when the layout below changes; older versions get a migration or a clear error
FORMAT_VERSION = 2
REQUIRED_KEYS = ("format", "version", "algorithm", "algorithm_config", "run_config", "algorithm_state", "loop")
_NAME = re.compile(r"^checkpoint_(\d+)\.pt$")


class CheckpointError(UsageError):
    """A checkpoint that is missing, unreadable, corrupt, or does not fit what loads it."""


def checkpoint_path(run_dir: Path, progress: int) -> Path:
    return Path(run_dir) / f"checkpoint_{progress:012d}.pt"


def progress_of(path: Path) -> int:
    """The progress a checkpoint was saved at, read from its name."""
    return int(Path(path).stem.split("_")[-1])


def list_checkpoints(run_dir: Path) -> list[Path]:
    """The run's checkpoints, oldest first (by progress in the name; temp files ignored)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in run_dir.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def save_checkpoint(payload: dict, path: Path, keep: int) -> Path:
    """Write ``payload`` to ``path`` atomically (temp file, fsync, rename), then
    delete all but the newest ``keep`` checkpoints beside it. A crash at any
    moment leaves either the old set of files or the new one, never a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save({"format": FORMAT, "version": FORMAT_VERSION, **payload}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    for old in list_checkpoints(path.parent)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def remove_stale_temp_files(run_dir: Path) -> None:
    """Temp files left by a process killed mid-save are never valid checkpoints."""
    for tmp in Path(run_dir).glob(".checkpoint_*.tmp"):
        tmp.unlink(missing_ok=True)


def resolve_checkpoint(where: Path | str) -> Path:
    """A checkpoint file, or a run directory meaning its newest checkpoint."""
    where = Path(where)
    if where.is_dir():
        latest = latest_checkpoint(where)
        if latest is None:
            raise CheckpointError(f"run directory {where} holds no checkpoint_*.pt file")
        return latest
    if not where.exists():
        raise CheckpointError(f"no checkpoint at {where}: expected a checkpoint_*.pt file or a run directory")
    return where


def load_checkpoint(where: Path | str) -> tuple[Path, dict]:
    """Load and validate a checkpoint (file or run directory); raise ``CheckpointError`` saying why it is unusable."""
    path = resolve_checkpoint(where)
    _check_integrity(path)
    try:
        # Our own pickles hold numpy RNG states and learners' buffers, which the
        # weights-only unpickler refuses; hence weights_only=False (trusted files only).
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many types for a torn or foreign file
        raise CheckpointError(f"{path} is not a readable checkpoint (corrupt or truncated?): {type(error).__name__}: {error}") from error
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a polytask checkpoint (no '{FORMAT}' marker)")
    if data["version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {data['version']}, newer than this code's {FORMAT_VERSION}; update polytask"
        )
    if data["version"] < FORMAT_VERSION:
        # version 1 predates env configs: its learners' states do not fit today's
        raise CheckpointError(f"{path} has checkpoint format version {data['version']}, from before env configs (version "
                              f"{FORMAT_VERSION}); it cannot be resumed or evaluated by this code: train the run anew")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}; it is incomplete or from an incompatible version")
    return path, data


def _check_integrity(path: Path) -> None:
    """Refuse a checkpoint whose bytes no longer match the CRC-32 checksums written with them."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise CheckpointError(f"{path} is not a readable checkpoint (corrupt or truncated?): {type(error).__name__}: {error}") from None
    except Exception as error:  # zlib errors, a member cut short
        damaged = f"{type(error).__name__}: {error}"
    if damaged is not None:
        raise CheckpointError(f"{path} is damaged: {damaged} does not match the checksum written with it; resume from an "
                              f"earlier checkpoint of the run (--run.resume {path.parent}/checkpoint_<N>.pt) or start anew")


def load_algorithm_state(algorithm, data: dict, path: Path) -> None:
    """Put a loaded checkpoint's algorithm state into ``algorithm``, naming the checkpoint if it does not fit."""
    try:
        algorithm.load_state_dict(data["algorithm_state"])
    except Exception as error:
        raise CheckpointError(f"{path}: the saved algorithm state does not fit this {data['algorithm']}: {error}") from error
