"""``RunConfig``: what the training loop itself is told (budget, schedule,
seed, device, checkpoints), kept apart from each learner's own config."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from envs.variations import VARIATIONS_PER_TASK


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """How to run a training: budget, schedule, seed, device, checkpoints."""

    budget: int | None = None
    """Total work, in the algorithm's unit (env steps or meta-iterations); None: the algorithm's default_budget."""
    eval_every: int | None = None
    """Evaluate every this many units (and always at the end); None: the algorithm's default_eval_every."""
    checkpoint_every: int | None = None
    """Save a checkpoint every this many units (and at the end and on Ctrl-C); None: as often as eval_every."""
    keep_checkpoints: int = 3
    """How many of the newest checkpoints to keep in the run directory."""
    log_every: int | None = None
    """Write step metrics to tensorboard every this many units; None: about 200 times per run."""
    seed: int = 1
    """Seeds python's, numpy's and torch's generators and the algorithm."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where tensors live; auto: cuda when available, else cpu."""
    # One thread by default: MTSAC's small-network updates ran 16x (load 2) to 40x (load 6)
    # slower with 2 threads than with 1 on a 2-core machine: threads spin against other
    # processes for the same cores.
    cpu_threads: int = 1
    """Torch CPU threads (0: torch's default, all cores); small networks gain little from more."""
    deterministic: bool = False
    """Bit-for-bit repeatable runs: deterministic torch kernels and a single CPU thread (slower)."""
    name: str | None = None
    """Run name: output goes to <runs-dir>/<name>/; None: '<preset or algorithm>-s<seed>'."""
    runs_dir: Path = Path("runs")
    """Parent directory of every run's tensorboard logs, checkpoints and reports."""
    resume: str | None = None
    """'auto': continue from the run's newest checkpoint (fresh start if it has none); or a checkpoint path."""
    progress_bar: bool = True
    """Show a progress bar with rate and ETA on stderr."""
    eval_video: int = 0
    """At every evaluation, record this many episodes of each task as GIFs to <run>/videos/ and tensorboard (0: none)."""

    def __post_init__(self):
        for field in ("budget", "eval_every", "checkpoint_every", "log_every"):
            value = getattr(self, field)
            if value is not None and value <= 0:
                raise ValueError(f"run.{field} must be a positive integer or None, got {value}")
        if self.cpu_threads < 0:
            raise ValueError(f"run.cpu_threads must be >= 0 (0: torch's default), got {self.cpu_threads}")
        if not 0 <= self.eval_video <= VARIATIONS_PER_TASK:
            raise ValueError(f"run.eval_video must lie in [0, {VARIATIONS_PER_TASK}] (episodes per task to record), got {self.eval_video}")
        if self.keep_checkpoints < 1:
            raise ValueError(f"run.keep_checkpoints must be at least 1, got {self.keep_checkpoints}")
        if self.name is not None and (not self.name or "/" in self.name or self.name in (".", "..")):
            raise ValueError(f"run.name must be a plain directory name without '/', got {self.name!r}")

    @property
    def run_dir(self) -> Path:
        if self.name is None:
            raise ValueError("RunConfig.name is unset; resolve it (e.g. with launch.experiment) before training")
        return Path(self.runs_dir) / self.name
