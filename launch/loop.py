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
import inspect
import signal
import sys
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
    load_algorithm_state,
    load_checkpoint,
    progress_of,
    remove_stale_temp_files,
    save_checkpoint,
)
from launch.config import RunConfig
from launch.runtime import capture_rng_states, preserved_rng_states, restore_rng_states
from launch.tensorboard import log_final, log_hparams_table, log_metrics, log_report


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

    def units_to_next_event(self, progress: int) -> int:
        """Units until the next evaluation, checkpoint or the end of the budget."""
        return max(1, min(self.budget, self.next_eval, self.next_checkpoint) - progress)

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


def train(algorithm: Algorithm, run: RunConfig, *, algorithm_name: str, algorithm_config=None, env_config=None) -> TrainResult:
    """Train ``algorithm`` to ``run``'s budget (resuming if asked), evaluate, report.

    Writes ``<run_dir>/`` tensorboard events, ``checkpoint_*.pt`` (newest
    ``run.keep_checkpoints``) and ``report.csv``/``report.json``; prints the
    final report table. On Ctrl-C it checkpoints and returns ``interrupted=True``.
    """
    if run.name is None:
        run = dataclasses.replace(run, name=f"{algorithm_name}-s{run.seed}")
    env = None if env_config is None else config_dict(env_config)
    return _Training(algorithm, run, algorithm_name, config_dict(algorithm_config), env).run()


class _Training:
    """One call of ``train``: the loop's state and the pieces of work it schedules."""

    def __init__(self, algorithm: Algorithm, run: RunConfig, algorithm_name: str, algorithm_config: dict, env_config: dict | None):
        self.algorithm, self.run_config, self.run_dir = algorithm, run, run.run_dir
        self.name, self.config, self.env_config = algorithm_name, algorithm_config, env_config
        self.schedule = resolve_schedule(algorithm, run)
        identity = {"algorithm": algorithm_name, "algorithm_config": algorithm_config, "env_config": env_config}
        self.resumed_from = _resume_if_asked(algorithm, run, self.schedule, identity)
        # a learner whose step() takes a limit is told how far the next scheduled event is
        self.step_takes_limit = "limit" in inspect.signature(algorithm.step).parameters
        self.progress = algorithm.progress()
        if self.resumed_from is None:
            self.schedule.start_at(self.progress)
        remove_stale_temp_files(self.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # purge_step drops events logged after the checkpoint by the run that was cut off.
        self.writer = SummaryWriter(str(self.run_dir), purge_step=self.progress if self.resumed_from else None)
        self.last_saved = self.resumed_from
        self.started, self.wall_time_before = time.perf_counter(), self.schedule.wall_time_s
        # Metrics some steps report only now and then (episode ends) would be missed if the loop
        # logged the last step's dict alone; it logs the newest value of every key since the last log.
        self.pending_metrics: dict = {}
        self.last_log = (self.started, self.progress)

    def checkpoint(self) -> Path:
        self.schedule.wall_time_s = self.wall_time_before + time.perf_counter() - self.started
        payload = {
            "algorithm": self.name,
            "algorithm_config": self.config,
            "env_config": self.env_config,
            "run_config": dataclasses.asdict(self.run_config),
            "algorithm_state": self.algorithm.state_dict(),
            "loop": {"progress": self.progress, "schedule": dataclasses.asdict(self.schedule), "rng": capture_rng_states()},
        }
        self.last_saved = save_checkpoint(payload, checkpoint_path(self.run_dir, self.progress), self.run_config.keep_checkpoints)
        return self.last_saved

    def evaluate(self) -> EvalReport:
        with preserved_rng_states():
            report = self.algorithm.evaluate()
        log_report(self.writer, report, self.progress)
        return report

    def log(self) -> None:
        now = time.perf_counter()
        rate = (self.progress - self.last_log[1]) / max(now - self.last_log[0], 1e-9)
        log_metrics(self.writer, self.pending_metrics, self.progress, rate)
        self.pending_metrics, self.last_log = {}, (now, self.progress)

    def run(self) -> TrainResult:
        try:
            return self._run()
        finally:
            self.writer.close()

    def _run(self) -> TrainResult:
        algorithm, schedule, unit = self.algorithm, self.schedule, self.algorithm.unit
        if self.resumed_from is None:
            log_hparams_table(self.writer, self.name, self.config, self.run_config)
        else:
            print(f"resumed {self.run_dir} from {self.resumed_from} at {self.progress} {unit}")
        bar = tqdm(total=schedule.budget, initial=self.progress, unit=f" {unit}", disable=not self.run_config.progress_bar,
                   dynamic_ncols=True, smoothing=0.1,
                   # a log file (CI, nohup) gets a line every 30 s, not a redraw per step
                   mininterval=0.1 if sys.stderr.isatty() else 30.0)
        interrupt = _InterruptFlag()
        with interrupt, bar:
            if schedule.next_eval <= self.progress < schedule.budget:  # owed by a run stopped between checkpoint and evaluation
                self._scheduled_evaluation(bar)
            while self.progress < schedule.budget and not interrupt.requested:
                self.pending_metrics.update(algorithm.step(schedule.units_to_next_event(self.progress)) if self.step_takes_limit
                                            else algorithm.step())
                progress = algorithm.progress()
                bar.update(progress - self.progress)
                self.progress = progress
                if self.progress >= schedule.next_log:
                    schedule.next_log = _next_multiple(self.progress, schedule.log_every)
                    self.log()
                if self.progress >= schedule.next_checkpoint:
                    schedule.next_checkpoint = _next_multiple(self.progress, schedule.checkpoint_every)
                    self.checkpoint()  # before evaluating, so that a resume repeats this evaluation exactly
                if schedule.next_eval <= self.progress < schedule.budget:
                    self._scheduled_evaluation(bar)
        if self.last_saved is None or progress_of(self.last_saved) != self.progress:
            self.checkpoint()
        if interrupt.requested:
            print(f"interrupted at {self.progress} {unit}; checkpoint {self.last_saved}\n"
                  f"continue with: --run.resume auto --run.name {self.run_config.name}")
            return TrainResult(EvalReport(title="interrupted before the final evaluation"), self.run_dir,
                               self.last_saved, self.progress, interrupted=True)
        return self.finish()

    def _scheduled_evaluation(self, bar) -> None:
        self.schedule.next_eval = _next_multiple(self.progress, self.schedule.eval_every)
        summary = self.evaluate().summary()
        bar.set_postfix(summary, refresh=False)
        bar.write(f"[{self.progress} {self.algorithm.unit}] " + ", ".join(f"{k} {v:.3f}" for k, v in summary.items()))

    def finish(self) -> TrainResult:
        report = self.evaluate()
        report.title = f"{self.run_config.name} ({self.name}, {self.progress} {self.algorithm.unit}): {report.title}"
        log_final(self.writer, self.name, self.config, self.run_config, report)
        report.save(self.run_dir / "report")
        print(report.format())
        wall_time = self.wall_time_before + time.perf_counter() - self.started
        print(f"report: {self.run_dir / 'report.csv'} and .json; checkpoint: {self.last_saved}; "
              f"training took {wall_time:.0f} s (all sessions of this run)")
        return TrainResult(report, self.run_dir, self.last_saved, self.progress, interrupted=False)


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
    env_differences = _differences(data.get("env_config") or {}, identity["env_config"] or {})
    if env_differences:
        raise CheckpointError(f"{path} was trained on other environments: {env_differences}; resume with the env config it was trained with")
    load_algorithm_state(algorithm, data, path)
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
