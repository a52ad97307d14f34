"""Collection speed on simulation actors against the in-process batched simulator, in one run.

For each world count, the shared collector (``agents.collector.Collector``:
autoreset, per-task episode statistics) gathers ``--steps`` vector steps of
random actions from MT10 worlds simulated

* ``in-process``: by one ``BatchedVectorEnv`` in this process, with 1 and
  with ``--threads`` physics threads (its default is every core);
* ``N actor(s)``: by ``RayVectorEnv`` with 1 or 2 Ray actors, one physics
  thread each, on a local Ray instance started here.

Each configuration runs ``--repeats`` times in turns (best repeat kept) after
one warm-up; the ratio column compares with the in-process simulator on one
thread, measured in the same run. Needs Ray (``pip install 'polytask[sweep]'``).
Run from the repository root::

    python -m benchmarks.actor_speed
    python -m benchmarks.actor_speed --worlds 100 500 --steps 200 --repeats 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from agents.collector import Collector
from envs.batched import BatchedVectorEnv, default_threads
from envs.benchmarks import get_benchmark
from envs.ray_vector import RayVectorEnv, import_ray


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worlds", type=int, nargs="+", default=[20, 100, 500], help="MT10 worlds of each measurement")
    parser.add_argument("--steps", type=int, default=200, help="vector steps collected per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=default_threads(), help="physics threads of the second in-process row")
    return parser.parse_args(argv)


def configurations(threads: int) -> dict[str, callable]:
    bench = get_benchmark("MT10")
    configs = {"in-process, 1 thread": lambda n: BatchedVectorEnv(bench, num_envs=n, num_threads=1)}
    if threads > 1:
        configs[f"in-process, {threads} threads"] = lambda n: BatchedVectorEnv(bench, num_envs=n, num_threads=threads)
    for actors in (1, 2):
        configs[f"{actors} actor{'s' * (actors > 1)}, 1 thread each"] = (
            lambda n, actors=actors: RayVectorEnv(bench, num_envs=n, num_actors=actors, threads_per_actor=1))
    return configs


def collect(collector: Collector, actions: np.ndarray) -> float:
    """Seconds to collect one vector step per row of ``actions``."""
    started = time.perf_counter()
    for row in actions:
        collector.step(row)
    return time.perf_counter() - started


def measure(worlds: int, configs: dict, steps: int, repeats: int) -> dict[str, float]:
    """env-steps/s of each configuration (best of ``repeats``, in turns)."""
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, worlds, 4))
    envs = {name: make(worlds) for name, make in configs.items()}
    collectors = {name: Collector(env, env.task_names, seed=0) for name, env in envs.items()}
    try:
        for collector in collectors.values():
            collect(collector, actions[:10])  # warm-up: actors started, first resets done
        best = dict.fromkeys(configs, np.inf)
        for _ in range(repeats):
            for name, collector in collectors.items():
                best[name] = min(best[name], collect(collector, actions))
    finally:
        for env in envs.values():
            env.close()
    return {name: steps * worlds / seconds for name, seconds in best.items()}


def main(argv=None) -> None:
    args = parse_args(argv)
    ray = import_ray()
    # the configurations' actors (1 + 2) live side by side and take turns, so Ray is told of
    # three CPUs whatever the cores: a logical count, it only lets them all be scheduled
    ray.init(address="local", num_cpus=3, include_dashboard=False, logging_level="error", log_to_driver=False)
    configs = configurations(args.threads)
    print(f"MT10 collection with random actions, env-steps/s (best of {args.repeats} x {args.steps} vector steps; "
          f"{default_threads()} cores; ratio: against in-process on 1 thread)")
    print(f"{'worlds':>7}  {'simulation':<30} {'env-steps/s':>12} {'ratio':>7}")
    try:
        for worlds in args.worlds:
            rates = measure(worlds, configs, args.steps, args.repeats)
            baseline = rates["in-process, 1 thread"]
            for name, rate in rates.items():
                print(f"{worlds:>7}  {name:<30} {rate:>12,.0f} {rate / baseline:>6.2f}x")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
