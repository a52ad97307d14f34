"""THE training loop: one loop for every learner, RL and supervised alike.

``train(algorithm, run)`` owns the budget (in ``algorithm.unit``), the
evaluation schedule, tensorboard logging, the progress bar, atomic
checkpoints and resume (``launch.resume``), SIGINT and SIGTERM
(``launch.signals``) and the run directory's files (``launch.run_files``).
The algorithm only steps, evaluates and hands over its state
(``launch.algorithm.Algorithm``). Seeding, device and deterministic mode are
set before the algorithm is built (``launch.experiment.prepare``), since
building it draws random weights.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import time
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from envs.report import EvalReport
from launch import plugins, run_files
from launch.algorithm import Algorithm
from launch.checkpoint import checkpoint_path, progress_of, remove_stale_temp_files, save_checkpoint
from launch.config import RunConfig
from launch.errors import UsageError
from launch.resume import next_multiple, resume_if_asked
from launch.runtime import capture_rng_states, preserved_rng_states
from launch.signals import HANDLED, InterruptFlag
from launch.tensorboard import log_final, log_hparams_table, log_metrics, log_report


@dataclasses.dataclass
class TrainResult:
    report: EvalReport
    run_dir: Path
    checkpoint: Path
    progress: int
    #: the signal (SIGINT, SIGTERM) that stopped the run before its budget, or None
    stopped_by: int | None = None

    @property
    def interrupted(self) -> bool:
        return self.stopped_by is not None


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
        self.next_eval = next_multiple(progress, self.eval_every)
        self.next_checkpoint = next_multiple(progress, self.checkpoint_every)
        self.next_log = next_multiple(progress, self.log_every)


def resolve_schedule(algorithm: Algorithm, run: RunConfig) -> Schedule:
    budget = run.budget or getattr(algorithm, "default_budget", None)
    if not budget:
        raise ValueError(f"{type(algorithm).__name__} has no default_budget; pass --run.budget N ({algorithm.unit})")
    eval_every = min(run.eval_every or getattr(algorithm, "default_eval_every", None) or budget, budget)
    log_every = run.log_every or max(1, budget // 200)
    return Schedule(budget, eval_every, run.checkpoint_every or eval_every, log_every)


def config_dict(config) -> dict:
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config or {})


def train(algorithm: Algorithm, run: RunConfig, *, algorithm_name: str, algorithm_config=None, env_config=None,
          label: str | None = None) -> TrainResult:
    """Train ``algorithm`` to ``run``'s budget (resuming if asked), evaluate, report.

    Writes ``<run_dir>/`` tensorboard events, ``checkpoint_*.pt`` (newest
    ``run.keep_checkpoints``), ``config.yaml``, ``curves.csv`` and
    ``report.csv``/``report.json`` (and what the learner's optional
    ``export(run_dir)`` writes, returning the paths); prints the final report table. On SIGINT
    or SIGTERM it checkpoints and returns with ``stopped_by`` set. ``label``
    is the preset or algorithm the run was started from (it names the run).
    """
    if run.name is None:
        run = dataclasses.replace(run, name=default_run_name(label or algorithm_name, env_config, run.seed))
    env = None if env_config is None else config_dict(env_config)
    return _Training(algorithm, run, algorithm_name, config_dict(algorithm_config), env, label or algorithm_name).run()


def default_run_name(label: str, env_config, seed: int) -> str:
    """``<preset or algorithm>-s<seed>``, with the suite's name when it is not polytask's own
    (``mt10-pcgrad-metaworld-s1``), so the same preset on two suites keeps two runs."""
    suite = getattr(env_config, "suite", "polytask") if env_config is not None else "polytask"
    return f"{label}{'' if suite == 'polytask' else '-' + suite}-s{seed}"


class _Training:
    """One call of ``train``: the loop's state and the pieces of work it schedules."""

    def __init__(self, algorithm: Algorithm, run: RunConfig, algorithm_name: str, algorithm_config: dict, env_config: dict | None,
                 label: str):
        self.algorithm, self.run_config, self.run_dir = algorithm, run, run.run_dir
        self.name, self.config, self.env_config, self.label = algorithm_name, algorithm_config, env_config, label
        self.schedule = resolve_schedule(algorithm, run)
        identity = {"algorithm": algorithm_name, "algorithm_config": algorithm_config, "env_config": env_config}
        self.resumed_from, resumed = resume_if_asked(algorithm, run, self.schedule, identity)
        # modules a run needs imported (--import) are those it was started with and those named now
        self.imports = list(dict.fromkeys([*(resumed or {}).get("imports", []), *plugins.IMPORTED]))
        # a learner whose step() takes a limit is told how far the next scheduled event is
        self.step_takes_limit = "limit" in inspect.signature(algorithm.step).parameters
        self.progress = algorithm.progress()
        if self.resumed_from is None:
            self.schedule.start_at(self.progress)
        self._check_warmup()
        if run.eval_video and not callable(getattr(algorithm, "policy", None)):
            raise UsageError(f"--run.eval-video records a learner's policy; {algorithm_name} has none")
        if run.eval_video and (env_config or {}).get("suite", "polytask") != "polytask":
            raise UsageError("--run.eval-video renders polytask's tasks; this run trains on another suite's")
        remove_stale_temp_files(self.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        run_files.write_config(self.run_dir, self.record())
        # purge_step drops events logged after the checkpoint by the run that was cut off: from its progress on,
        # since an evaluation there is owed again; the final evaluation of a run that had reached its budget stays
        # when it falls on the evaluation schedule (a run extended from there shows what an uninterrupted one shows)
        kept_final = resumed is not None and self.progress >= resumed["loop"]["schedule"]["budget"] and self.progress % self.schedule.eval_every == 0
        self.writer = SummaryWriter(str(self.run_dir), purge_step=self.progress + kept_final if self.resumed_from else None)
        self.curves = run_files.Curves(self.run_dir, resumed_at=None if self.resumed_from is None else self.progress - 1 + kept_final)
        self.last_saved = self.resumed_from
        self.started, self.wall_time_before = time.perf_counter(), self.schedule.wall_time_s
        # Metrics some steps report only now and then (episode ends) would be missed if the loop
        # logged the last step's dict alone; it logs the newest value of every key since the last log.
        self.pending_metrics: dict = {}
        self.last_log = (self.started, self.progress)

    def _check_warmup(self) -> None:
        """A budget that ends within the learner's warm-up would train nothing: refuse it, saying what to change.

        ``warmup_units`` is the least budget (in ``unit``) that makes the learner's first update."""
        first_update, unit = getattr(self.algorithm, "warmup_units", 0), self.algorithm.unit
        if self.schedule.budget < first_update:
            option = getattr(self.algorithm, "warmup_option", None)
            shorter = f", or a shorter warm-up (--algorithm.{option.replace('_', '-')})" if option else ""
            raise UsageError(f"--run.budget {self.schedule.budget} {unit} ends within {self.name}'s warm-up: its first update "
                             f"comes at {first_update} {unit}; give a budget of at least {first_update}{shorter}")

    def record(self) -> dict:
        """What the run was started with: the configs, the preset or algorithm named, the modules imported."""
        return {"algorithm": self.name, "label": self.label, "imports": self.imports, "algorithm_config": self.config,
                "env_config": self.env_config, "run_config": dataclasses.asdict(self.run_config)}

    def checkpoint(self) -> Path:
        self.schedule.wall_time_s = self.wall_time_before + time.perf_counter() - self.started
        payload = {
            **self.record(),
            "algorithm_state": self.algorithm.state_dict(),
            "loop": {"progress": self.progress, "schedule": dataclasses.asdict(self.schedule), "rng": capture_rng_states()},
        }
        self.last_saved = save_checkpoint(payload, checkpoint_path(self.run_dir, self.progress), self.run_config.keep_checkpoints)
        return self.last_saved

    def evaluate(self) -> EvalReport:
        with preserved_rng_states():
            report = self.algorithm.evaluate()
            if self.run_config.eval_video:
                from envs.suite import EnvConfig

                run_files.record_videos(self.algorithm.policy(), self.algorithm.tasks, EnvConfig(**self.env_config),
                                        self.run_config.eval_video, self.progress, self.run_dir, self.writer)
        log_report(self.writer, report, self.progress)
        self.curves.add(self.progress, report)
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
            if self.progress >= schedule.budget:
                print(f"{self.run_config.name} is already at its budget of {schedule.budget} {unit}; evaluating it again "
                      f"(give --run.budget above {self.progress} to train it further)")
        bar = tqdm(total=schedule.budget, initial=self.progress, unit=f" {unit}", disable=not self.run_config.progress_bar,
                   dynamic_ncols=True, smoothing=0.1,
                   # a log file (CI, nohup) gets a line every 30 s, not a redraw per step
                   mininterval=0.1 if sys.stderr.isatty() else 30.0)
        interrupt = InterruptFlag()
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
                    schedule.next_log = next_multiple(self.progress, schedule.log_every)
                    self.log()
                if self.progress >= schedule.next_checkpoint:
                    schedule.next_checkpoint = next_multiple(self.progress, schedule.checkpoint_every)
                    self.checkpoint()  # before evaluating, so that a resume repeats this evaluation exactly
                if schedule.next_eval <= self.progress < schedule.budget:
                    self._scheduled_evaluation(bar)
        if self.last_saved is None or progress_of(self.last_saved) != self.progress:
            self.checkpoint()
        if interrupt.requested is not None:
            print(f"interrupted at {self.progress} {unit}; checkpoint {self.last_saved} ({HANDLED[interrupt.requested]})\n"
                  f"continue with: python -m launch resume {self.run_dir}  (or: train --run.resume auto --run.name {self.run_config.name})")
            return TrainResult(EvalReport(title="interrupted before the final evaluation"), self.run_dir,
                               self.last_saved, self.progress, stopped_by=interrupt.requested)
        return self.finish()

    def _scheduled_evaluation(self, bar) -> None:
        self.schedule.next_eval = next_multiple(self.progress, self.schedule.eval_every)
        summary = self.evaluate().summary()
        bar.set_postfix(summary, refresh=False)
        bar.write(f"[{self.progress} {self.algorithm.unit}] " + ", ".join(f"{k} {v:.3f}" for k, v in summary.items()))

    def finish(self) -> TrainResult:
        report = self.evaluate()
        report.title = f"{self.run_config.name} ({self.name}, {self.progress} {self.algorithm.unit}): {report.title}"
        log_final(self.writer, self.name, self.config, self.run_config, report)
        report.save(self.run_dir / "report")
        # what a learner makes for use outside the loop (a learned optimizer's meta-weights file), if anything
        exported = getattr(self.algorithm, "export", None)
        exports = [] if exported is None else [str(path) for path in exported(self.run_dir)]
        print(report.format())
        wall_time = self.wall_time_before + time.perf_counter() - self.started
        print(f"report: {self.run_dir / 'report.csv'} and .json; checkpoint: {self.last_saved}; "
              + "".join(f"exported: {path}; " for path in exports) +
              f"training took {wall_time:.0f} s (all sessions of this run)")
        return TrainResult(report, self.run_dir, self.last_saved, self.progress)
