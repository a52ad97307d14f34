"""From names and configs to a running learner: prepare the process (seed,
determinism, device), build the learner, train it; and
rebuild a trained learner from a checkpoint for ``eval`` and ``render``."""

from __future__ import annotations

import dataclasses

import torch

from envs.benchmarks import Benchmark, get_benchmark
from launch.algorithms import config_from_dict, get_algorithm
from launch.checkpoint import load_algorithm_state, load_checkpoint
from launch.config import RunConfig
from launch.errors import UsageError
from launch.loop import TrainResult, train
from launch.runtime import resolve_device, seed_everything, set_cpu_threads, set_deterministic


def prepare(run: RunConfig) -> torch.device:
    """Set what must be set before a learner draws its first random number."""
    try:
        device = resolve_device(run.device)
    except ValueError as error:
        raise UsageError(str(error)) from None
    set_cpu_threads(run.cpu_threads)
    set_deterministic(run.deterministic)
    seed_everything(run.seed)
    return device


def benchmark_of(config) -> Benchmark:
    """The benchmark an RL learner's config trains on (``benchmark`` plus ``task`` for MT1/ML1)."""
    name, task = getattr(config, "benchmark", None), getattr(config, "task", None)
    if name is None:
        raise UsageError(f"{type(config).__name__} names no benchmark; this needs an RL learner's checkpoint")
    single = name in ("MT1", "ML1")
    try:
        return get_benchmark(name, task if single else None)
    except ValueError as error:
        raise UsageError(str(error)) from None


def build(algorithm_name: str, config, run: RunConfig):
    """Prepare the process and construct the learner (its constructor's ValueErrors are usage errors)."""
    learner_class, _ = get_algorithm(algorithm_name).load()
    device = prepare(run)
    try:
        return learner_class(config, device=device, seed=run.seed)
    except ValueError as error:
        raise UsageError(f"{algorithm_name}: {error}") from error


def run_training(algorithm_name: str, config, run: RunConfig, label: str | None = None) -> TrainResult:
    """Train ``algorithm_name`` with ``config``; the run is named '<label>-s<seed>' unless ``run.name`` says otherwise."""
    if run.name is None:
        run = dataclasses.replace(run, name=f"{label or algorithm_name}-s{run.seed}")
    algorithm = build(algorithm_name, config, run)
    return train(algorithm, run, algorithm_name=algorithm_name, algorithm_config=config)


def restore(checkpoint, device: str = "auto"):
    """(learner with the checkpoint's state, algorithm name, its config, checkpoint path)."""
    path, data = load_checkpoint(checkpoint)
    name = data["algorithm"]
    _, config_class = get_algorithm(name).load()
    config = config_from_dict(config_class, data["algorithm_config"], f"checkpoint {path}")
    saved_run = data["run_config"]
    run = RunConfig(seed=saved_run["seed"], device=device, deterministic=saved_run["deterministic"],
                    cpu_threads=saved_run.get("cpu_threads", 1))
    algorithm = build(name, config, run)
    load_algorithm_state(algorithm, data, path)
    return algorithm, name, config, path
