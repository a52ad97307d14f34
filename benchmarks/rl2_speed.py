"""RL²'s speed against the simulator it runs on, measured in the same run.

For each configuration, in turns (best of ``--repeats``):

* ``simulator``: the batched simulator alone, the same worlds (one per
  trial of an iteration) stepped with random actions: the ceiling;
* ``collection``: RL²'s collection of one iteration's trials (GRU step of
  every world, sampling, the collector, the trial schedule);
* ``update``: PPO's epochs over that iteration (gradient steps per second).

Configurations: the ``ml1-reach-rl2`` preset, and the literature's ML10 size
(``ml10-rl2``: GRU 256, meta-batch 20, 500-step episodes) with trials cut to
``--ml10-episodes`` episodes so that a repeat stays short (per-step costs do
not depend on the trial's length). One torch thread, the simulator's default
threads. Run from the repository root::

    python -m benchmarks.rl2_speed
    python -m benchmarks.rl2_speed --repeats 2 --ml10-episodes 1   # quicker
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from launch.algorithms import get_preset
from meta.rl.rl2 import RL2


def configurations(ml10_episodes: int):
    cpu_config, cpu_env, _ = get_preset("ml1-reach-rl2").build()
    ml10_config, ml10_env, _ = get_preset("ml10-rl2").build()
    return {"ml1-reach-rl2": (cpu_config, cpu_env),
            f"ml10-rl2 ({ml10_episodes} episodes/trial)": (dataclasses.replace(ml10_config, episodes_per_trial=ml10_episodes), ml10_env)}


def measure(config, env, repeats: int) -> dict[str, float]:
    learner = RL2(config, env=env, device="cpu", seed=0)
    sim = learner.suite.make_vec("train", num_worlds=config.meta_batch)
    sim.reset(seed=0)
    rng = np.random.default_rng(0)
    steps = learner.trial_steps
    actions = rng.uniform(-1, 1, (steps, config.meta_batch, 4))
    best = {"simulator": np.inf, "collection": np.inf, "update": np.inf}
    for _ in range(repeats):
        started = time.perf_counter()
        for t in range(steps):
            sim.step(actions[t])
        best["simulator"] = min(best["simulator"], time.perf_counter() - started)
        started = time.perf_counter()
        rollout = learner._collect()
        best["collection"] = min(best["collection"], time.perf_counter() - started)
        started = time.perf_counter()
        learner._update(rollout)
        best["update"] = min(best["update"], time.perf_counter() - started)
    sim.close()
    learner.close()
    env_steps = steps * config.meta_batch
    gradient_steps = config.epochs * config.minibatches
    return {"env steps per iteration": env_steps, "simulator steps/s": env_steps / best["simulator"],
            "collection steps/s": env_steps / best["collection"], "collection / simulator": best["simulator"] / best["collection"],
            "updates/s": gradient_steps / best["update"], "iteration s": best["collection"] + best["update"],
            "training env steps/s": env_steps / (best["collection"] + best["update"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ml10-episodes", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = {name: measure(config, env, args.repeats) for name, (config, env) in configurations(args.ml10_episodes).items()}
    columns = list(next(iter(rows.values())))
    width = max(map(len, rows)) + 2
    print("| configuration".ljust(width + 2) + "| " + " | ".join(columns) + " |")
    print("|" + "-" * (width + 1) + "|" + "|".join("-" * (len(c) + 2) for c in columns) + "|")
    for name, row in rows.items():
        cells = [f"{row[c]:.2f}" if c in ("collection / simulator", "iteration s") else f"{row[c]:,.0f}" for c in columns]
        print(f"| {name}".ljust(width + 2) + "| " + " | ".join(cell.rjust(len(c)) for cell, c in zip(cells, columns)) + " |")


if __name__ == "__main__":
    main()
