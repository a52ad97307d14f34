"""From names and configs to a running learner: prepare the process (seed,
determinism, device), build the learner, train it; and
rebuild a trained learner from a checkpoint for ``eval`` and ``render``."""

from __future__ import annotations

import dataclasses

import torch

from launch import plugins
from launch.algorithms import config_from_dict, get_algorithm
from launch.checkpoint import load_algorithm_state, load_checkpoint
from launch.config import RunConfig
from launch.errors import UsageError
from launch.loop import TrainResult, default_run_name, train
from launch.runtime import resolve_device, seed_everything, set_cpu_threads, set_deterministic


def prepare(run: RunConfig, device_flag: str = "--run.device") -> torch.device:
    """Set what must be set before a learner draws its first random number."""
    try:
        device = resolve_device(run.device, device_flag)
    except ValueError as error:
        raise UsageError(str(error)) from None
    set_cpu_threads(run.cpu_threads)
    set_deterministic(run.deterministic)
    seed_everything(run.seed)
    return device


def build(algorithm_name: str, config, run: RunConfig, env=None, device_flag: str = "--run.device"):
    """Prepare the process and construct the learner (its constructor's ValueErrors are usage errors).

    ``env``: the learner's env config; None gives a learner with environments its ``default_env``."""
    spec = get_algorithm(algorithm_name)
    learner_class, _ = spec.load()
    device = prepare(run, device_flag)
    env = spec.default_env() if env is None else env
    extra = {} if env is None else {"env": env}
    try:
        return learner_class(config, device=device, seed=run.seed, **extra)
    except (ValueError, ImportError) as error:  # ImportError: an optional extra, e.g. Meta-World, that is not installed
        raise UsageError(f"{algorithm_name}: {error}") from error


def run_training(algorithm_name: str, config, run: RunConfig, label: str | None = None, env=None) -> TrainResult:
    """Train ``algorithm_name`` with ``config`` (and ``env``); the run is named by ``default_run_name``
    unless ``run.name`` says otherwise."""
    env = get_algorithm(algorithm_name).default_env() if env is None else env
    if run.name is None:
        run = dataclasses.replace(run, name=default_run_name(label or algorithm_name, env, run.seed))
    algorithm = build(algorithm_name, config, run, env)
    try:
        return train(algorithm, run, algorithm_name=algorithm_name, algorithm_config=config, env_config=env, label=label)
    finally:
        if callable(getattr(algorithm, "close", None)):  # its envs' threads and renderers, its evaluator's worlds
            algorithm.close()


def env_from_checkpoint(name: str, data: dict, path):
    """The env config a checkpoint was trained with (None for a learner without environments)."""
    default_env = get_algorithm(name).default_env()
    if default_env is None:
        return None
    return config_from_dict(type(default_env), data.get("env_config") or {}, f"checkpoint {path}")


def restore(checkpoint, device: str = "auto", env_overrides: dict | None = None, device_flag: str = "--run.device"):
    """(learner with the checkpoint's state, algorithm name, its config, its env config, checkpoint path).

    ``env_overrides`` change the env config for evaluation only (split, episodes); they must
    leave the training envs as they were, which the learner's state fits."""
    path, data = load_checkpoint(checkpoint)
    plugins.import_modules(data.get("imports", []), why=f"{path} was trained with --import")
    name = data["algorithm"]
    _, config_class = get_algorithm(name).load()
    config = config_from_dict(config_class, data["algorithm_config"], f"checkpoint {path}")
    env = env_from_checkpoint(name, data, path)
    if env_overrides:
        if env is None:
            raise UsageError(f"{name} trains on no environments: --split and --episodes do not apply to it")
        try:
            env = dataclasses.replace(env, **env_overrides)
        except ValueError as error:
            raise UsageError(str(error)) from None
    saved_run = data["run_config"]
    run = RunConfig(seed=saved_run["seed"], device=device, deterministic=saved_run["deterministic"],
                    cpu_threads=saved_run.get("cpu_threads", 1))
    algorithm = build(name, config, run, env, device_flag)
    load_algorithm_state(algorithm, data, path)
    return algorithm, name, config, env, path
