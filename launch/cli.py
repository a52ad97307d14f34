"""``python -m launch``: train, eval, list and render, parsed with tyro.

    python -m launch train                       # the default preset (MT10 + PCGrad)
    python -m launch train mt1-reach-sac --run.budget 20000 --run.seed 3
    python -m launch train mtsac --algorithm.surgery cagrad --run.resume auto
    python -m launch eval runs/mt10-pcgrad-s1    # newest checkpoint of a run, or a checkpoint file
    python -m launch list
    python -m launch render --task reach --out reach.gif [--checkpoint runs/...]

Bad input (unknown names, unusable checkpoints) exits with status 2 and says
what is accepted; an interrupted (Ctrl-C) training exits with 130 after
saving a checkpoint.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, Literal, Union

import tyro

from envs.registry import unknown_name_error
from launch.algorithms import ALGORITHMS, DEFAULT_PRESET, PRESETS, AlgorithmUnavailable, get_algorithm
from launch.config import RunConfig
from launch.errors import UsageError

PROG = "python -m launch"
USAGE = f"""usage: {PROG} COMMAND [options]

commands:
  train [PRESET|ALGORITHM] [options]   train (default preset: {DEFAULT_PRESET}); --help lists presets and options
  eval CHECKPOINT [options]            re-run evaluation of a checkpoint (or a run directory's newest) and print the table
  list                                 tasks with their success tests, benchmarks, algorithms, presets
  render --task TASK --out FILE.gif    render the scripted expert, or a trained policy with --checkpoint
"""
EXIT_USAGE, EXIT_INTERRUPTED = 2, 130


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else EXIT_USAGE
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"error: {unknown_name_error('command', command, COMMANDS)}\n\n{USAGE}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return COMMANDS[command](rest)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside the training loop
        print("\naborted (Ctrl-C); nothing was saved since the last checkpoint", file=sys.stderr)
        return EXIT_INTERRUPTED


# ---------------------------------------------------------------- train
def _experiment_type(algorithm: str, config_class: type, default_env) -> type:
    """A dataclass holding one algorithm's config, its env config (for a learner with environments)
    and the run config: ``--algorithm.*``, ``--env.*`` and ``--run.*`` flags."""
    env_field = [] if default_env is None else [("env", type(default_env), dataclasses.field(default=default_env))]
    return dataclasses.make_dataclass(
        f"Train_{algorithm.replace('-', '_')}",
        [
            ("algorithm", config_class, dataclasses.field(default_factory=config_class)),
            *env_field,
            ("run", RunConfig, dataclasses.field(default_factory=RunConfig)),
            # which preset or algorithm the user named: it names the run
            ("label", tyro.conf.Suppress[str], dataclasses.field(default=algorithm)),
        ],
        frozen=True,
    )


def _experiment(experiment_type: type, config, env, run, label: str):
    values = {"algorithm": config, "run": run, "label": label}
    if env is not None:
        values["env"] = env
    return experiment_type(**values)


def _train_choices(wanted: str | None) -> dict[str, tuple[object, str]]:
    """subcommand name -> (default experiment, description), for every algorithm and preset that imports.
    ``wanted`` must import: its failure is reported; others' failures only hide them."""
    types, choices = {}, {}
    for name, spec in ALGORITHMS.items():
        try:
            _, config_class = spec.load()
        except AlgorithmUnavailable:
            if name == wanted:
                raise
            continue
        default_env = spec.default_env()
        types[name] = _experiment_type(name, config_class, default_env)
        choices[name] = (_experiment(types[name], config_class(), default_env, RunConfig(), name), spec.summary)
    for name, preset in PRESETS.items():
        if preset.algorithm not in types:
            if name == wanted:
                get_algorithm(preset.algorithm).load()  # raises, saying why
            continue
        config, env, run = preset.build()
        choices[name] = (_experiment(types[preset.algorithm], config, env, run, name), f"{preset.summary} [{preset.algorithm}]")
    return choices


def train_command(argv: list[str]) -> int:
    from launch.experiment import run_training

    asks_help = argv[:1] in (["-h"], ["--help"])
    if not asks_help and (not argv or argv[0].startswith("-")):
        argv = [DEFAULT_PRESET, *argv]  # options alone apply to the default preset
    wanted = None if asks_help else argv[0]
    if wanted is not None and wanted not in ALGORITHMS and wanted not in PRESETS:
        raise UsageError(str(unknown_name_error("algorithm or preset", wanted, {*ALGORITHMS, *PRESETS}, plural="algorithms and presets")))
    choices = _train_choices(wanted)
    union = Union[tuple(Annotated[type(default), tyro.conf.subcommand(name, default=default, description=text)]
                        for name, (default, text) in choices.items())]
    default = {"default": choices[DEFAULT_PRESET][0]} if DEFAULT_PRESET in choices else {}
    experiment = tyro.cli(union, args=argv, prog=f"{PROG} train", **default)
    algorithm = experiment.label if experiment.label in ALGORITHMS else PRESETS[experiment.label].algorithm
    result = run_training(algorithm, experiment.algorithm, experiment.run, label=experiment.label, env=getattr(experiment, "env", None))
    return EXIT_INTERRUPTED if result.interrupted else 0


# ---------------------------------------------------------------- eval
@dataclasses.dataclass(frozen=True)
class EvalArgs:
    """Re-run a trained learner's evaluation and print its per-task table."""

    checkpoint: tyro.conf.Positional[Path]
    """A checkpoint_*.pt file, or a run directory (its newest checkpoint)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to evaluate."""
    out: Path | None = None
    """Also write the table to OUT.csv and OUT.json."""


def eval_command(argv: list[str]) -> int:
    from launch.experiment import restore
    from launch.runtime import preserved_rng_states

    args = tyro.cli(EvalArgs, args=argv, prog=f"{PROG} eval")
    algorithm, name, _, _, path = restore(args.checkpoint, args.device)
    with preserved_rng_states():
        report = algorithm.evaluate()
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
    print("tasks (gym id: success test)")
    for name, task in envs.TASKS.items():
        print(f"  {name:<24} {envs.env_id(name):<34} {task.success_description or '(no description)'}")
    print("\nbenchmarks (train tasks -> test tasks)")
    for name, factory in envs.BENCHMARKS.items():
        if name in ("MT1", "ML1"):
            print(f"  {name:<24} one task, held-out variations: {name}-<task>, e.g. {name}-reach")
            continue
        try:
            bench = factory()
            print(f"  {name:<24} {len(bench.train_tasks)} -> {len(bench.test_tasks)} tasks: {', '.join(bench.test_tasks)}")
        except ValueError as error:  # a benchmark naming tasks not registered yet
            print(f"  {name:<24} unavailable: {error}")
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
        settings = ", ".join(f"{k}={v}" for k, v in {**base, **preset.config, **{f"run.{k}": v for k, v in preset.run.items()}}.items())
        print(f"  {name:<24} {preset.algorithm}: {preset.summary}" + (f" ({settings})" if settings else ""))
    return 0


def render_command(argv: list[str]) -> int:
    from launch.render import RenderArgs, render

    render(tyro.cli(RenderArgs, args=argv, prog=f"{PROG} render"))
    return 0


COMMANDS = {"train": train_command, "eval": eval_command, "list": list_command, "render": render_command}
__all__ = ["main"]
