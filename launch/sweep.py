"""``python -m launch sweep``: seeds and grids of ``launch train`` runs, scheduled by Ray Tune.

    python -m launch sweep mt10-pcgrad --seeds 0-4
    python -m launch sweep mtsac --seeds 0-9 --grid algorithm.surgery=none,pcgrad --run.budget 50000
    python -m launch sweep arm-cml --seeds 0-2 --grid algorithm.dataset=rotated-digits,writers --address auto

Every trial is one ``python -m launch train`` process (the shared loop: its
run directory, checkpoints and report) under ``<runs-dir>/<sweep name>/``,
named ``<preset>[-<field>=<value>...]-s<seed>``; any other option is handed
to every trial.  Ray Tune (an optional extra, ``polytask[sweep]``) schedules
the trials: on a local Ray instance it starts by default (no server to
install), or on a cluster with ``--address``; each trial asks for
``--cpus-per-trial`` and ``--gpus-per-trial``.  Nothing is lost: a trial
whose process dies is retried by Tune (``--max-failures``) and continues
from its newest checkpoint (``--run.resume auto``), and a sweep stopped by
Ctrl-C continues where it stopped when the same command is run again (Tune's
``Tuner.restore`` over the same directory; finished trials stay finished).
Compare the results with ``python -m launch compare <runs-dir>/<sweep name>``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from launch.errors import UsageError

__all__ = ["SweepPlan", "parse_sweep", "parse_seeds", "run_sweep"]

SWEEP_FLAGS = ("--seeds", "--grid", "--address", "--cpus-per-trial", "--gpus-per-trial", "--max-failures", "--name")


@dataclass
class SweepPlan:
    target: str
    seeds: list[int]
    grid: dict[str, list[str]] = field(default_factory=dict)
    address: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_failures: int = 3
    name: str | None = None
    runs_dir: Path = Path("runs")
    train_options: list[str] = field(default_factory=list)

    @property
    def sweep_name(self) -> str:
        return self.name or "-".join([self.target, "sweep", *(key.split(".", 1)[1] for key in self.grid)])

    @property
    def directory(self) -> Path:
        return (self.runs_dir / self.sweep_name).resolve()

    def trials(self) -> list[dict[str, str]]:
        """Every (grid point, seed) as ``{field: value, ..., "seed": s}``."""
        points: list[dict[str, str]] = [{}]
        for key, values in self.grid.items():
            points = [{**point, key: value} for point in points for value in values]
        return [{**point, "seed": str(seed)} for point in points for seed in self.seeds]

    def trial_name(self, trial: dict[str, str]) -> str:
        settings = "".join(f"-{key.split('.', 1)[1]}={value}" for key, value in trial.items() if key != "seed")
        return f"{self.target}{settings}-s{trial['seed']}".replace("/", "_")

    def train_argv(self, trial: dict[str, str]) -> list[str]:
        grid = [item for key, value in trial.items() if key != "seed" for item in (f"--{key}", value)]
        return ["train", self.target, *self.train_options, *grid, "--run.seed", trial["seed"],
                "--run.runs-dir", str(self.directory), "--run.name", self.trial_name(trial), "--run.resume", "auto",
                "--run.no-progress-bar"]


def parse_seeds(text: str) -> list[int]:
    """``0-9``, ``0,3,5`` or ``4``: a list of distinct non-negative seeds."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            seeds.extend(range(int(low), int(high) + 1) if high else [int(low)])
    except ValueError:
        raise UsageError(f"--seeds takes 0-9, 0,3,5 or 4 (non-negative integers), got {text!r}") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds takes distinct non-negative seeds, got {text!r}")
    return seeds


def _value(argv: list[str], i: int, flag: str) -> str:
    if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
        raise UsageError(f"sweep {flag} needs a value")
    return argv[i + 1]


def parse_sweep(argv: list[str]) -> SweepPlan:
    """The plan of ``sweep TARGET [sweep flags] [train options]``; train options are checked by parsing one trial."""
    if not argv or argv[0].startswith("-"):
        raise UsageError("sweep needs a preset or algorithm first, e.g. python -m launch sweep mt10-pcgrad --seeds 0-4")
    plan = SweepPlan(target=argv[0], seeds=[])
    rest, i = argv[1:], 0
    while i < len(rest):
        flag = rest[i]
        if flag not in SWEEP_FLAGS:
            plan.train_options.append(flag)
            i += 1
            continue
        value = _value(rest, i, flag)
        i += 2
        if flag == "--seeds":
            plan.seeds = parse_seeds(value)
        elif flag == "--grid":
            key, _, values = value.partition("=")
            if not key.startswith(("algorithm.", "env.", "run.")) or not values:
                raise UsageError(f"--grid takes GROUP.FIELD=V1,V2 with GROUP algorithm, env or run, got {value!r}")
            plan.grid[key] = values.split(",")
        elif flag == "--address":
            plan.address = value
        elif flag == "--name":
            plan.name = value
        else:
            try:
                number = float(value) if flag.endswith("trial") else int(value)
            except ValueError:
                raise UsageError(f"sweep {flag} takes a number, got {value!r}") from None
            if number < 0:
                raise UsageError(f"sweep {flag} must be >= 0, got {value}")
            setattr(plan, flag[2:].replace("-", "_"), number)
    if not plan.seeds:
        plan.seeds = [1]
    if "--run.runs-dir" in plan.train_options:
        at = plan.train_options.index("--run.runs-dir")
        plan.runs_dir = Path(_value(plan.train_options, at, "--run.runs-dir"))
        del plan.train_options[at : at + 2]
    for reserved in ("--run.seed", "--run.name", "--run.resume"):
        if reserved in plan.train_options:
            raise UsageError(f"sweep sets {reserved} for every trial; use --seeds (and --name for the sweep)")
    from launch.train_command import parse

    for trial in plan.trials()[:: len(plan.seeds)]:  # the first seed of every grid point
        parse(plan.train_argv(trial)[1:])  # one trial per grid point: bad options fail here, not on the cluster
    return plan


def _normal_priority() -> None:
    """Ray starts its workers at niceness 15, for its own bookkeeping; a trial is the work itself, and
    on a busy machine it starved (importing torch took 111 s instead of 5): take back normal priority
    where the system allows it."""
    try:
        os.nice(-os.nice(0))
    except OSError:
        pass


def _trial_process(config: dict) -> None:
    """Ray Tune's trainable: one ``launch train`` process; its output goes to ``<run dir>.log``."""
    from ray import tune

    config = config["trial"]
    argv = config["argv"]
    log = Path(config["log"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([config["root"], os.environ.get("PYTHONPATH", "")])}
    with open(log, "a") as handle:
        done = subprocess.run([sys.executable, "-m", "launch", *argv], stdout=handle, stderr=subprocess.STDOUT,
                              cwd=config["cwd"], env=env, preexec_fn=_normal_priority)
    if done.returncode != 0:
        raise RuntimeError(f"trial exited with {done.returncode}; its output: {log}")
    report = json.loads((Path(config["run_dir"]) / "report.json").read_text())
    tune.report(dict(report["mean"]))  # the mean over tasks of every metric, for Tune's own table


def run_sweep(plan: SweepPlan) -> Path:
    try:
        import ray
        from ray import tune
    except ImportError:
        raise UsageError("launch sweep runs on Ray Tune: pip install 'polytask[sweep]'") from None
    plan.directory.mkdir(parents=True, exist_ok=True)
    root = str(Path(__file__).resolve().parents[1])
    configs = [{"argv": plan.train_argv(trial), "run_dir": str(plan.directory / plan.trial_name(trial)),
                "log": str(plan.directory / f"{plan.trial_name(trial)}.log"), "cwd": os.getcwd(), "root": root}
               for trial in plan.trials()]
    ray.init(address=plan.address, include_dashboard=False, log_to_driver=False, configure_logging=False,
             ignore_reinit_error=True)
    try:
        trainable = tune.with_resources(_trial_process, {"cpu": plan.cpus_per_trial, "gpu": plan.gpus_per_trial})
        storage = plan.directory / "tune"
        if tune.Tuner.can_restore(str(storage / "trials")):
            tuner = tune.Tuner.restore(str(storage / "trials"), trainable, resume_errored=True)
        else:
            tuner = tune.Tuner(
                trainable,
                param_space={"trial": tune.grid_search(configs)},
                run_config=tune.RunConfig(name="trials", storage_path=str(storage), verbose=0,
                                          failure_config=tune.FailureConfig(max_failures=plan.max_failures)),
            )
        results = tuner.fit()
    finally:
        ray.shutdown()
    failed = [r for r in results if r.error is not None]
    if failed:
        raise UsageError(f"{len(failed)} of {len(configs)} trials failed after {plan.max_failures} retries; "
                         f"their logs are in {plan.directory}")
    return plan.directory
