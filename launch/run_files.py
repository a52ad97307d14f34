"""What a run directory holds besides checkpoints and tensorboard events:

* ``config.yaml``: the resolved configs (algorithm, env, run), the preset or
  algorithm named and the modules imported, written when a run starts or
  resumes; ``python -m launch train --config runs/X/config.yaml`` starts a run
  from it;
* ``curves.csv``: every evaluation, one row per task and a ``mean`` row
  (``progress, task, <metrics>``), kept consistent with the checkpoint a run
  resumes from;
* ``videos/<progress>/<task>-<k>.gif`` with ``--run.eval-video K``: the first
  K evaluation episodes of every task at each evaluation, also in tensorboard
  (``eval/<task>/video``).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from envs.report import EvalReport
from launch.errors import UsageError

CONFIG_FILE = "config.yaml"
CURVES_FILE = "curves.csv"


def plain(value: Any) -> Any:
    """A value as YAML's plain types: dataclasses as dicts, tuples as lists, paths as strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_config(run_dir: Path, record: dict) -> Path:
    path = Path(run_dir) / CONFIG_FILE
    _write_atomically(path, yaml.safe_dump(plain(record), sort_keys=False))
    return path


def read_config(path: Path | str) -> dict:
    """A ``config.yaml`` (or a run directory holding one), or a UsageError saying what is wrong with it."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_FILE
    try:
        record = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"--config {path}: cannot read it ({type(error).__name__}: {error})") from None
    missing = [key for key in ("algorithm", "algorithm_config", "run_config") if not isinstance(record, dict) or key not in record]
    if missing:
        raise UsageError(f"--config {path}: not a run's config.yaml (it lacks {', '.join(missing)})")
    return record


class Curves:
    """``curves.csv`` of a run: rows ``progress, task, metrics...`` of every evaluation."""

    def __init__(self, run_dir: Path, resumed_at: int | None):
        self.path = Path(run_dir) / CURVES_FILE
        self.rows: list[dict] = []
        if resumed_at is not None and self.path.exists():
            # evaluations after the checkpoint belong to the run that was cut off
            with open(self.path, newline="") as handle:
                self.rows = [row for row in csv.DictReader(handle) if int(row["progress"]) <= resumed_at]

    def add(self, progress: int, report: EvalReport) -> None:
        self.rows = [row for row in self.rows if int(row["progress"]) != progress]
        for task, metrics in [*report.rows.items(), ("mean", report.summary())]:
            self.rows.append({"progress": progress, "task": task, **metrics})
        columns = list(dict.fromkeys(key for row in self.rows for key in row))
        out = io.StringIO()
        writer = csv.DictWriter(out, columns, restval="")
        writer.writeheader()
        writer.writerows(self.rows)
        _write_atomically(self.path, out.getvalue())


def record_videos(policy, tasks, env_config, episodes: int, progress: int, run_dir: Path, writer,
                  max_steps: int = 200, size: int = 128, fps: int = 30) -> list[Path]:
    """GIFs of the first ``episodes`` evaluation episodes of every task (polytask's envs), to the run
    directory and tensorboard. ``policy`` is a learner's batch policy over ``tasks``' ids."""
    import imageio.v3 as iio
    from tensorboard.compat.proto.summary_pb2 import Summary

    from envs.registry import get_task

    written = []
    folder = Path(run_dir) / "videos" / f"{progress:012d}"
    folder.mkdir(parents=True, exist_ok=True)
    for task_id, task in enumerate(tasks):
        for k in range(episodes):
            env = get_task(task)(render_mode="rgb_array", width=size, height=size, goal_observable=env_config.goal_shown)
            try:
                obs, _ = env.reset(options={"variation": k, "split": env_config.eval_split})
                frames = [env.render()]
                for _ in range(max_steps):
                    obs, *_ = env.step(np.asarray(policy(obs[None], np.array([task_id])))[0])
                    frames.append(env.render())
            finally:
                env.close()
            gif = iio.imwrite("<bytes>", np.stack(frames), extension=".gif", duration=1000 / fps, loop=0)
            path = folder / f"{task}-{k}.gif"
            path.write_bytes(gif)
            written.append(path)
            # what SummaryWriter.add_video writes, without its moviepy dependency: an image summary holding a GIF
            image = Summary.Image(height=size, width=size, colorspace=3, encoded_image_string=gif)
            writer._get_file_writer().add_summary(Summary(value=[Summary.Value(tag=f"eval/{task}/video_{k}", image=image)]), progress)
    return written
