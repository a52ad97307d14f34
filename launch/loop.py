"""THE training loop: one loop for every learner, RL and supervised alike.

``train(algorithm, run)`` owns the budget (in ``algorithm.unit``), the
evaluation schedule, tensorboard logging, the progress bar, atomic
checkpoints and resume, and Ctrl-C. The algorithm only steps, evaluates and
hands over its state (``launch.algorithm.Algorithm``). Seeding, device and
deterministic mode are set before the algorithm is built
(``launch.experiment.prepare``), since building it draws random weights.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from envs.report import EvalReport
from launch.algorithm import Algorithm
from launch.checkpoint import (
    CheckpointError,
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    remove_stale_temp_files,
    save_checkpoint,
)
from launch.config import RunConfig
from launch.runtime import capture_rng_states, preserved_rng_states, restore_rng_states

METRIC_PREFIXES = ("charts/", "losses/")


@dataclasses.dataclass
class TrainResult:
    report: EvalReport
    run_dir: Path
    checkpoint: Path
    progress: int
    interrupted: bool


@dataclasses.dataclass
class Schedule:
    """What the loop has done and when it next evaluates, checkpoints and logs (all in units)."""

    budget: int
    eval_every: int
    checkpoint_every: int
    log_every: int
    next_eval: int = 0
    next_checkpoint: int = 0
    next_log: int = 0
    wall_time_s: float = 0.0

    def start_at(self, progress: int) -> None:
        self.next_eval = _next_multiple(progress, self.eval_every)
        self.next_checkpoint = _next_multiple(progress, self.checkpoint_every)
        self.next_log = _next_multiple(progress, self.log_every)


def _next_multiple(progress: int, every: int) -> int:
    return (progress // every + 1) * every


def resolve_schedule(algorithm: Algorithm, run: RunConfig) -> Schedule:
    budget = run.budget or getattr(algorithm, "default_budget", None)
    if not budget:
        raise ValueError(f"{type(algorithm).__name__} has no default_budget; pass --run.budget N ({algorithm.unit})")
    eval_every = min(run.eval_every or getattr(algorithm, "default_eval_every", None) or budget, budget)
    log_every = run.log_every or max(1, budget // 200)
    return Schedule(budget, eval_every, run.checkpoint_every or eval_every, log_every)


def config_dict(config) -> dict:
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config or {})


def train(algorithm: Algorithm, run: RunConfig, *, algorithm_name: str, algorithm_config=None) -> TrainResult:
    """Train ``algorithm`` to ``run``'s budget (resuming if asked), evaluate, report.

    Writes ``<run_dir>/`` tensorboard events, ``checkpoint_*.pt`` (newest
    ``run.keep_checkpoints``) and ``report.csv``/``report.json``; prints the
    final report table. On Ctrl-C it checkpoints and returns ``interrupted=True``.
    """
    run_dir = run.run_dir
    schedule = resolve_schedule(algorithm, run)
    identity = {"algorithm": algorithm_name, "algorithm_config": config_dict(algorithm_config)}
    resumed_from = _resume_if_asked(algorithm, run, schedule, identity)
    progress = algorithm.progress()
    if resumed_from is None:
        schedule.start_at(progress)
    remove_stale_temp_files(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    # purge_step drops events logged after the checkpoint by the run that was cut off.
    writer = SummaryWriter(str(run_dir), purge_step=progress if resumed_from else None)
    if resumed_from is None:
        writer.add_text("hyperparameters", _markdown_table(identity, run))
    else:
        print(f"resumed {run_dir} from {resumed_from} at {progress} {algorithm.unit}")

    def checkpoint() -> Path:
        schedule.wall_time_s = wall_time_before + time.perf_counter() - started
        payload = {
            **identity,
            "run_config": dataclasses.asdict(run),
            "algorithm_state": algorithm.state_dict(),
            "loop": {"progress": progress, "schedule": dataclasses.asdict(schedule), "rng": capture_rng_states()},
        }
        return save_checkpoint(payload, checkpoint_path(run_dir, progress), run.keep_checkpoints)

    def evaluate() -> EvalReport:
        with preserved_rng_states():
            report = algorithm.evaluate()
        _log_report(writer, report, progress)
        return report

    last_saved = resumed_from
    report = None
    wall_time_before = schedule.wall_time_s
    bar = tqdm(total=schedule.budget, initial=progress, unit=f" {algorithm.unit}", disable=not run.progress_bar,
               dynamic_ncols=True, smoothing=0.1)
    started, units_at_start = time.perf_counter(), progress
    interrupt = _InterruptFlag()
    with interrupt, bar:
        while progress < schedule.budget and not interrupt.requested:
            metrics = algorithm.step()
            bar.update(algorithm.progress() - progress)
            progress = algorithm.progress()
            if progress >= schedule.next_log:
                elapsed = time.perf_counter() - started
                _log_metrics(writer, metrics, progress, (progress - units_at_start) / max(elapsed, 1e-9))
                schedule.next_log = _next_multiple(progress, schedule.log_every)
            if progress >= schedule.next_checkpoint:
                schedule.next_checkpoint = _next_multiple(progress, schedule.checkpoint_every)
                last_saved = checkpoint()  # before evaluating, so a resume repeats this evaluation exactly
            if progress >= schedule.next_eval and progress < schedule.budget:
                schedule.next_eval = _next_multiple(progress, schedule.eval_every)
                report = evaluate()
                bar.set_postfix(report.summary(), refresh=False)
                bar.write(f"[{progress} {algorithm.unit}] " + ", ".join(f"{k} {v:.3f}" for k, v in report.summary().items()))
    if last_saved is None or _progress_of(last_saved) != progress:
        last_saved = checkpoint()
    if interrupt.requested:
        writer.close()
        print(f"interrupted at {progress} {algorithm.unit}; checkpoint {last_saved}\n"
              f"continue with: --run.resume auto --run.name {run.name}")
        return TrainResult(report or EvalReport(title="interrupted before the final evaluation"), run_dir,
                           last_saved, progress, interrupted=True)

    report = evaluate()
    report.title = f"{run.name} ({algorithm_name}, {progress} {algorithm.unit}): {report.title}"
    writer.add_hparams(_hparams(identity, run), {f"final/{k}": v for k, v in report.summary().items()}, run_name=".")
    writer.close()
    report.save(run_dir / "report")
    print(report.format())
    print(f"report: {run_dir / 'report.csv'} and .json; checkpoint: {last_saved}")
    return TrainResult(report, run_dir, last_saved, progress, interrupted=False)


def _progress_of(path: Path) -> int:
    return int(Path(path).stem.split("_")[-1])


def _resume_if_asked(algorithm: Algorithm, run: RunConfig, schedule: Schedule, identity: dict) -> Path | None:
    """Load the checkpoint ``run.resume`` names into ``algorithm``; refuse to silently
    overwrite a run that already has checkpoints."""
    existing = latest_checkpoint(run.run_dir)
    if run.resume is None:
        if existing is not None:
            raise CheckpointError(
                f"{run.run_dir} already holds checkpoints (newest: {existing.name}); pass --run.resume auto "
                f"to continue that run, or --run.name NEW for a fresh one"
            )
        return None
    if run.resume == "auto":
        if existing is None:
            print(f"--run.resume auto: {run.run_dir} has no checkpoint yet; starting a fresh run")
            return None
        source = existing
    else:
        source = Path(run.resume)
    path, data = load_checkpoint(source)
    if data["algorithm"] != identity["algorithm"]:
        raise CheckpointError(f"{path} was trained by {data['algorithm']!r}, not {identity['algorithm']!r}")
    differences = _differences(data["algorithm_config"], identity["algorithm_config"])
    if differences:
        raise CheckpointError(f"{path} was trained with a different {identity['algorithm']} config: {differences}; "
                              "resume with the config it was trained with")
    try:
        algorithm.load_state_dict(data["algorithm_state"])
    except Exception as error:
        raise CheckpointError(f"{path}: the saved algorithm state does not fit this {identity['algorithm']}: {error}") from error
    loop = data["loop"]
    if algorithm.progress() != loop["progress"]:
        raise CheckpointError(f"{path}: algorithm reports progress {algorithm.progress()} after loading, loop saved {loop['progress']}")
    saved = loop["schedule"]
    schedule.wall_time_s = saved["wall_time_s"]
    schedule.start_at(loop["progress"])
    if saved["eval_every"] == schedule.eval_every:
        # checkpoints are taken before evaluating, so an evaluation due at this progress is still owed
        schedule.next_eval = saved["next_eval"]
    restore_rng_states(loop["rng"])
    return path


def _differences(saved: dict, given: dict) -> str:
    keys = sorted(set(saved) | set(given))
    return "; ".join(f"{k}: checkpoint {saved.get(k, '<absent>')!r} vs now {given.get(k, '<absent>')!r}"
                     for k in keys if saved.get(k, "<absent>") != given.get(k, "<absent>"))


def _log_metrics(writer: SummaryWriter, metrics: dict, progress: int, units_per_second: float) -> None:
    for key, value in metrics.items():
        if not key.startswith(METRIC_PREFIXES):
            raise ValueError(f"step() metric {key!r} must be prefixed with one of {METRIC_PREFIXES}")
        writer.add_scalar(key, float(value), progress)
    writer.add_scalar("charts/units_per_second", units_per_second, progress)


def _log_report(writer: SummaryWriter, report: EvalReport, progress: int) -> None:
    for task, row in report.rows.items():
        for metric, value in row.items():
            writer.add_scalar(f"eval/{task}/{metric}", value, progress)
    for metric, value in report.summary().items():
        writer.add_scalar(f"eval/mean/{metric}", value, progress)


def _flat(prefix: str, values: dict) -> dict:
    return {f"{prefix}.{k}": v for k, v in values.items()}


def _hparams(identity: dict, run: RunConfig) -> dict:
    values = {"algorithm": identity["algorithm"], **_flat("algorithm", identity["algorithm_config"]),
              **_flat("run", dataclasses.asdict(run))}
    return {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in values.items()}


def _markdown_table(identity: dict, run: RunConfig) -> str:
    rows = "\n".join(f"|{k}|{v}|" for k, v in _hparams(identity, run).items())
    return f"|param|value|\n|-|-|\n{rows}"


class _InterruptFlag:
    """First Ctrl-C asks the loop to checkpoint and stop after the current step; a second one aborts."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nCtrl-C: saving a checkpoint after this step (press again to abort without saving)", flush=True)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False
