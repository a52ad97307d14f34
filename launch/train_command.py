"""``python -m launch train``: a preset or algorithm, its options, and where its configs come from.

A run starts from a preset's or an algorithm's configs, from a run's
``config.yaml`` (``--config FILE``), or, resuming (``--run.resume``), from the
checkpoint it continues: there every config is the checkpoint's, and the
command line may change only what a resumed run may change
(``launch.resume.CHANGEABLE_RUN_FIELDS``), so ``--run.resume auto --run.name X``
alone continues run X however it was started.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Union

import tyro

from envs.registry import unknown_name_error
from envs.suite import EnvConfig
from launch import plugins
from launch.algorithms import ALGORITHMS, DEFAULT_PRESET, PRESETS, AlgorithmUnavailable, config_from_dict, get_algorithm
from launch.checkpoint import latest_checkpoint, load_checkpoint
from launch.config import RunConfig
from launch.errors import UsageError
from launch.resume import CHANGEABLE_RUN_FIELDS, refuse_changes
from launch.run_files import read_config
from launch.tyro_errors import flags_of, one_line_errors

PROG = "python -m launch train"


def experiment_type(algorithm: str, config_class: type, default_env) -> type:
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


def _experiment(kind: type, config, env, run, label: str):
    values = {"algorithm": config, "run": run, "label": label}
    if env is not None:
        values["env"] = env
    return kind(**values)


def _choices(wanted: str | None) -> tuple[dict[str, type], dict[str, tuple[object, str]]]:
    """(experiment type per algorithm, subcommand name -> (default experiment, description)) for every
    algorithm and preset that imports. ``wanted`` must import: its failure is reported; others' only hide them."""
    types, choices = {}, {}
    for name, spec in ALGORITHMS.items():
        try:
            _, config_class = spec.load()
        except AlgorithmUnavailable:
            if name == wanted:
                raise
            continue
        default_env = spec.default_env()
        types[name] = experiment_type(name, config_class, default_env)
        choices[name] = (_experiment(types[name], config_class(), default_env, RunConfig(), name), spec.summary)
    for name, preset in PRESETS.items():
        if preset.algorithm not in types:
            if name == wanted:
                get_algorithm(preset.algorithm).load()  # raises, saying why
            continue
        config, env, run = preset.build()
        choices[name] = (_experiment(types[preset.algorithm], config, env, run, name), f"{preset.summary} [{preset.algorithm}]")
    return types, choices


def option_value(argv: list[str], flag: str) -> str | None:
    """The value given to ``flag`` (``--run.name X`` or ``--run.name=X``; underscores or hyphens), or None."""
    spellings = {flag, "--" + flag[2:].replace("-", "_")}
    value = None
    for i, argument in enumerate(argv):
        name, equals, rest = argument.partition("=")
        if name in spellings:
            value = rest if equals else (argv[i + 1] if i + 1 < len(argv) else None)
    return value


def _without_option(argv: list[str], flag: str) -> list[str]:
    out, skip = [], False
    for argument in argv:
        if skip:
            skip = False
            continue
        if argument == flag:
            skip = True
        elif not argument.startswith(flag + "="):
            out.append(argument)
    return out


def _saved_run(argv: list[str]) -> tuple[dict | None, str]:
    """The record a run starts from instead of a preset: a ``--config`` file or the checkpoint
    ``--run.resume`` continues (None: start from the preset or algorithm named)."""
    config_file = option_value(argv, "--config")
    if config_file is not None:
        return read_config(config_file), f"--config {config_file}"
    resume = option_value(argv, "--run.resume")
    if resume is None:
        return None, ""
    if resume != "auto":
        return load_checkpoint(resume)[1], f"checkpoint {resume}"
    run_dir = Path(option_value(argv, "--run.runs-dir") or RunConfig.runs_dir) / (option_value(argv, "--run.name") or "")
    if option_value(argv, "--run.name") is None or latest_checkpoint(run_dir) is None:
        return None, ""  # a fresh start: the named preset (or the default one) with its options
    return load_checkpoint(run_dir)[1], f"run {run_dir}"


def _from_record(kind: type, record: dict, where: str):
    """The experiment a saved record describes."""
    name = record["algorithm"]
    _, config_class = get_algorithm(name).load()
    default_env = get_algorithm(name).default_env()
    config = config_from_dict(config_class, record["algorithm_config"], where)
    env = None if default_env is None else config_from_dict(EnvConfig, record.get("env_config") or {}, where)
    run = config_from_dict(RunConfig, {**record["run_config"], "resume": None}, where)
    return _experiment(kind, config, env, run, record.get("label") or name)


def parse(argv: list[str]):
    """The experiment the command line names: ``(algorithm name, experiment)``."""
    argv = _without_option(list(argv), "--import")
    record, where = _saved_run(argv)
    if record is not None:  # the modules the run was started with (--import) register its tasks and learners
        plugins.import_modules(record.get("imports", []), why=f"{where} was started with --import")
    argv = _without_option(argv, "--config")
    named = argv[0] if argv and not argv[0].startswith("-") else None
    if record is not None:
        label = record.get("label") or record["algorithm"]
        if named is not None and named != label:
            raise UsageError(f"{where} was started from {label!r}; resume it without naming another preset or algorithm ({named!r})")
        argv = [label, *(argv[1:] if named else argv)]
    elif named is None and argv[:1] not in (["-h"], ["--help"]):
        argv = [DEFAULT_PRESET, *argv]  # options alone apply to the default preset
    wanted = argv[0] if argv[0] not in ("-h", "--help") else None
    if wanted is not None and wanted not in ALGORITHMS and wanted not in PRESETS:
        raise UsageError(str(unknown_name_error("algorithm or preset", wanted, {*ALGORITHMS, *PRESETS}, plural="algorithms and presets")))
    types, choices = _choices(wanted)
    algorithm = None if wanted is None else (wanted if wanted in ALGORITHMS else PRESETS[wanted].algorithm)
    if record is not None:
        saved = _from_record(types[algorithm], record, where)
        choices[wanted] = (saved, choices[wanted][1])
    union = Union[tuple(Annotated[type(default), tyro.conf.subcommand(name, default=default, description=text)]
                        for name, (default, text) in choices.items())]
    default = {"default": choices[DEFAULT_PRESET][0]} if DEFAULT_PRESET in choices else {}
    known = flags_of(types[algorithm]) if algorithm else []
    with one_line_errors(f"{PROG} {wanted or ''}".strip(), known):
        experiment = tyro.cli(union, args=argv, prog=PROG, **default)
    if record is not None and option_value(argv, "--run.resume") is not None:
        refuse_changes(dataclasses.asdict(saved.algorithm), dataclasses.asdict(experiment.algorithm), "algorithm")
        if hasattr(saved, "env"):
            refuse_changes(dataclasses.asdict(saved.env), dataclasses.asdict(experiment.env), "env")
        refuse_changes(dataclasses.asdict(saved.run), dataclasses.asdict(experiment.run), "run", CHANGEABLE_RUN_FIELDS)
    return algorithm, _tidy_env(experiment, argv)


def _tidy_env(experiment, argv: list[str]):
    """Drop a task left over from a preset or default when the command line names a benchmark that
    takes none (``sb3-sac --env.benchmark MT10`` would otherwise keep sb3-sac's default task, reach)."""
    env = getattr(experiment, "env", None)
    if env is None or env.task is None or option_value(argv, "--env.task") is not None or option_value(argv, "--env.benchmark") is None:
        return experiment
    if env.benchmark.split("-", 1)[0] in ("MT1", "ML1"):
        return experiment
    return dataclasses.replace(experiment, env=dataclasses.replace(env, task=None))
