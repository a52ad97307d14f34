"""``python -m launch``: train, resume, eval, list, render, sweep, compare and edit, parsed with tyro.

    python -m launch train                       # the default preset (MT10 + PCGrad)
    python -m launch train mt1-reach-sac --run.budget 20000 --run.seed 3
    python -m launch train mtsac --algorithm.surgery cagrad --env.benchmark MT10
    python -m launch resume runs/mt10-pcgrad-s1  # continue a run from its directory alone
    python -m launch eval runs/mt10-pcgrad-s1    # newest checkpoint of a run, or a checkpoint file
    python -m launch list
    python -m launch render --task reach --out reach.gif [--checkpoint runs/...]
    python -m launch compare runs/                # methods over seeds: IQM with bootstrap intervals
    python -m launch edit runs/serac-s1 --edits edits.txt   # model editing: edit success and drawdown
    python -m launch --import mypackage.tasks train mtsac --env.benchmark MT1 --env.task my-task

Bad input (unknown names, bad values, unusable checkpoints) exits with status
2 and one line saying what is accepted; a training stopped by Ctrl-C or SIGTERM
exits with 130 or 143 after saving a checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Literal

import tyro

from envs.registry import unknown_name_error
from launch.algorithms import ALGORITHMS, DEFAULT_PRESET, PRESETS, AlgorithmUnavailable
from launch.errors import UsageError
from launch.plugins import take_import_flags
from launch.signals import exit_code
from launch.tyro_errors import one_line_errors

PROG = "python -m launch"
USAGE = f"""usage: {PROG} COMMAND [options]   (or: {PROG} --import MODULE COMMAND [options])

commands:
  train [PRESET|ALGORITHM] [options]   train (default preset: {DEFAULT_PRESET}); --help lists presets and options
  resume RUN_DIR [options]             continue a run from its directory (only budget, schedule and device may change)
  eval CHECKPOINT [options]            re-run evaluation of a checkpoint (or a run directory's newest) and print the table
  list                                 tasks (with where they come from), benchmarks, algorithms, presets
  render --task TASK --out FILE.gif    render the scripted expert, or a trained policy with --checkpoint
  sweep PRESET|ALGORITHM --seeds 0-4 [--grid algorithm.FIELD=A,B ...] [train options]
                                       one train run per seed and grid point, on Ray Tune (local or --address)
  compare RUN_DIR ...                  methods over seeds: IQM, mean, median, optimality gap, bootstrap intervals
  edit EDITOR --edits FILE             apply 'question | answer' edits (a mend/serac run, or ft, ft-kl, rome); print ES / DD

--import MODULE imports a module first (one that registers tasks or learners); tasks of an
installed package's `polytask.tasks` entry points need no flag.
"""
EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return _dispatch(argv)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside the training loop
        print("\naborted (Ctrl-C); nothing was saved since the last checkpoint", file=sys.stderr)
        return exit_code(2)
    except BrokenPipeError:
        # the reader went away (`--help | head`): stop quietly, and keep the interpreter's final
        # flush of stdout from raising again (the recipe of Python's signal module docs)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _dispatch(argv: list[str]) -> int:
    argv = take_import_flags(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else EXIT_USAGE
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        raise UsageError(f"{unknown_name_error('command', command, COMMANDS)}\n\n{USAGE}")
    return COMMANDS[command](rest)


# ---------------------------------------------------------------- train
def train_command(argv: list[str]) -> int:
    from launch.experiment import run_training
    from launch.train_command import parse

    algorithm, experiment = parse(argv)
    result = run_training(algorithm, experiment.algorithm, experiment.run, label=experiment.label, env=getattr(experiment, "env", None))
    return exit_code(result.stopped_by) if result.interrupted else 0


def resume_command(argv: list[str]) -> int:
    """``resume RUN_DIR [options]``: ``train --run.resume auto`` for that run, its configs from its checkpoint."""
    if not argv or argv[0].startswith("-"):
        if argv[:1] in (["-h"], ["--help"]):
            print(f"usage: {PROG} resume RUN_DIR [--run.budget N] [--run.eval-every N] [--run.device D] ...\n\n"
                  "Continues the run in RUN_DIR from its newest checkpoint, with the configs it was trained with.")
            return 0
        raise UsageError(f"resume needs a run directory, e.g. {PROG} resume runs/mt10-pcgrad-s1")
    run_dir = Path(argv[0])
    if not run_dir.is_dir():
        raise UsageError(f"resume: no run directory {run_dir}")
    return train_command([*argv[1:], "--run.resume", "auto", "--run.runs-dir", str(run_dir.parent), "--run.name", run_dir.name])


# ---------------------------------------------------------------- eval
@dataclasses.dataclass(frozen=True)
class EvalArgs:
    """Re-run a trained learner's evaluation and print its per-task table."""

    checkpoint: tyro.conf.Positional[Path]
    """A checkpoint_*.pt file, or a run directory (its newest checkpoint)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to evaluate."""
    split: Literal["train", "test"] | None = None
    """Evaluate on this split's variations instead of the run's (env.eval_split)."""
    episodes: int | None = None
    """Evaluation episodes per task instead of the run's (env.eval_episodes_per_task)."""
    out: Path | None = None
    """Also write the table to OUT.csv and OUT.json."""


def eval_command(argv: list[str]) -> int:
    from launch.experiment import restore
    from launch.runtime import preserved_rng_states

    with one_line_errors(f"{PROG} eval"):
        args = tyro.cli(EvalArgs, args=argv, prog=f"{PROG} eval")
    env_overrides = {key: value for key, value in (("eval_split", args.split), ("eval_episodes_per_task", args.episodes))
                     if value is not None}
    algorithm, name, _, _, path = restore(args.checkpoint, args.device, env_overrides, device_flag="--device")
    try:
        with preserved_rng_states():
            report = algorithm.evaluate()
    finally:
        if callable(getattr(algorithm, "close", None)):
            algorithm.close()
    report.title = f"{path} ({name}, {algorithm.progress()} {algorithm.unit}): {report.title}"
    print(report.format())
    if args.out is not None:
        csv_path, json_path = report.save(args.out)
        print(f"wrote {csv_path} and {json_path}")
    return 0


# ---------------------------------------------------------------- list
def list_command(argv: list[str]) -> int:
    import envs

    if argv:
        raise UsageError(f"'list' takes no arguments, got {' '.join(argv)}")
    print("tasks (gym id: success test) [where they come from, if not built in]")
    for name, task in envs.TASKS.items():
        source = envs.TASK_SOURCES.get(name, "")
        origin = f" [{source}]" if source and source != "built-in" else ""
        print(f"  {name:<24} {envs.env_id(name):<34} {task.success_description or '(no description)'}{origin}")
    print("\nbenchmarks (train tasks -> test tasks)")
    for name, factory in envs.BENCHMARKS.items():
        if name in ("MT1", "ML1"):
            print(f"  {name:<24} one task, held-out variations: --env.benchmark {name} --env.task <task>")
            continue
        try:
            bench = factory()
            print(f"  {name:<24} {len(bench.train_tasks)} -> {len(bench.test_tasks)} tasks: {', '.join(bench.test_tasks)}")
        except ValueError as error:  # a benchmark naming tasks not registered yet
            print(f"  {name:<24} unavailable: {error}")
    print(f"\nsuites (--env.suite): {', '.join(envs.SUITES)}")
    print("\nalgorithms (unit: summary)")
    for name, spec in ALGORITHMS.items():
        try:
            learner, _ = spec.load()
            print(f"  {name:<24} {getattr(learner, 'unit', '?')}: {spec.summary}")
        except AlgorithmUnavailable as error:
            print(f"  {name:<24} UNAVAILABLE ({error})")
    print(f"\npresets (default: {DEFAULT_PRESET})")
    for name, preset in PRESETS.items():
        base = {"from": preset.base} if preset.base else {}
        settings = {**base, **preset.config, **{f"env.{k}": v for k, v in preset.env.items()}, **{f"run.{k}": v for k, v in preset.run.items()}}
        listed = ", ".join(f"{k}={v}" for k, v in settings.items())
        print(f"  {name:<24} {preset.algorithm}: {preset.summary}" + (f" ({listed})" if listed else ""))
    return 0


def render_command(argv: list[str]) -> int:
    from launch.render import RenderArgs, render

    with one_line_errors(f"{PROG} render"):
        args = tyro.cli(RenderArgs, args=argv, prog=f"{PROG} render")
    render(args)
    return 0


def compare_command(argv: list[str]) -> int:
    from launch.compare import CompareArgs, compare, format_comparison

    with one_line_errors(f"{PROG} compare"):
        args = tyro.cli(CompareArgs, args=argv, prog=f"{PROG} compare")
    result, written = compare(args)
    print(format_comparison(result))
    print(f"wrote {', '.join(map(str, written))}")
    return 0


def sweep_command(argv: list[str]) -> int:
    from launch.sweep import __doc__ as sweep_doc, parse_sweep, run_sweep

    if argv[:1] in (["-h"], ["--help"]):
        print(sweep_doc)
        return 0
    plan = parse_sweep(argv)
    directory = run_sweep(plan)
    print(f"{len(plan.trials())} trials done in {directory}; compare them: {PROG} compare {directory}")
    return 0


def edit_command(argv: list[str]) -> int:
    from launch.edit import EditArgs, run_edits

    with one_line_errors(f"{PROG} edit"):
        args = tyro.cli(EditArgs, args=argv, prog=f"{PROG} edit")
    print(run_edits(args))
    return 0


COMMANDS = {"train": train_command, "resume": resume_command, "eval": eval_command, "list": list_command, "render": render_command,
            "sweep": sweep_command, "compare": compare_command, "edit": edit_command}
__all__ = ["main"]
