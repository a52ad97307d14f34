"""Environment speed: env-steps per second of our envs, Meta-World's, and raw MuJoCo.

Prints three tables:

(a) per task, one env stepped with random actions: ours and, where
    ``metaworld`` is installed, Meta-World's same-named v3 task made through
    its documented API (``gymnasium.make("Meta-World/MT1", env_name=...)``),
    with the ratio (target: ours >= 5x);
(b) MT10, or MT50 with ``--benchmark MT50`` (its tasks registered here): our single env, our
    ``BenchmarkVectorEnv`` (sync), our ``BatchedVectorEnv`` at 10 and at the
    largest world count, the raw ``mj_step(nstep=5)`` bound of the same models
    (threaded, and through ``mujoco.rollout``; the same random controls, no
    observation, no reward), and
    Meta-World's synchronous vector env of the same benchmark (targets:
    batched >= 10x Meta-World; batched cost per step <= 1.3x raw at 500 worlds);
(c) the batched benchmark over worlds x threads, with the raw bound at each point.

Each number is the best of several timed runs (5, or 2 with ``--quick``);
the entries compared in one table are timed in turns, and CPU time per env
step stands beside steps/s because it is steadier on a machine shared with
other work. Run from the repository root::

    python -m benchmarks.env_speed            # full
    python -m benchmarks.env_speed --quick    # shorter runs, same tables
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import io
import time
import warnings
from typing import Callable

import mujoco
import numpy as np
from mujoco import rollout

import envs
from envs.base import FRAME_SKIP
from envs.batched import BatchedVectorEnv, default_threads
from envs.benchmarks import Benchmark, get_benchmark
from envs.vector import BenchmarkVectorEnv


@dataclasses.dataclass
class Timed:
    """One thing to time: ``run()`` makes ``steps_per_call`` env steps; ``prepare()`` runs untimed first."""

    run: Callable[[], object]
    steps_per_call: int
    calls: int
    prepare: Callable[[], None] | None = None


def measure(timed: dict[str, Timed], repeats: int) -> dict[str, tuple[float, float, float]]:
    """Per entry: best-of-``repeats`` env-steps/s (wall clock), CPU µs per env step, cores in use.

    Entries that are compared are timed in turns, so a change in the
    machine's load hits them alike. CPU time per step (the least over the
    repeats, all threads summed) is what a step costs, and on a machine shared
    with other work it is steadier than wall time. Cores in use is CPU time /
    wall time of the fastest run: when threads do not raise throughput, it
    tells a busy machine (fewer cores in use than threads) from work that
    does not run in parallel.
    """
    for entry in timed.values():  # warm up: thread pools, caches
        if entry.prepare:
            entry.prepare()
        entry.run()
    wall = {name: float("inf") for name in timed}
    cores = dict.fromkeys(timed, 0.0)
    cpu = {name: float("inf") for name in timed}
    for _ in range(repeats):
        for name, entry in timed.items():
            if entry.prepare:
                entry.prepare()
            start, cpu_start = time.perf_counter(), time.process_time()
            for _ in range(entry.calls):
                entry.run()
            elapsed, cpu_elapsed = time.perf_counter() - start, time.process_time() - cpu_start
            cpu[name] = min(cpu[name], cpu_elapsed)
            if elapsed < wall[name]:
                wall[name], cores[name] = elapsed, cpu_elapsed / elapsed
    out = {}
    for name, entry in timed.items():
        steps = entry.steps_per_call * entry.calls
        out[name] = (steps / wall[name], 1e6 * cpu[name] / steps, cores[name])
    return out


def single_env_stepper(env, rng):
    actions = rng.uniform(-1, 1, (512, 4)).astype(np.float32)
    counter = iter(range(10**12))

    def run():
        _, _, terminated, truncated, _ = env.step(actions[next(counter) % 512])
        if terminated or truncated:
            env.reset()

    return run


def action_table(rng, worlds: int) -> np.ndarray:
    """64 batches of uniform random actions, ``(64, worlds, 4)``: a vector stepper cycles through them."""
    return rng.uniform(-1, 1, (64, worlds, 4)).astype(np.float32)


def vector_stepper(vec, actions: np.ndarray):
    counter = iter(range(10**12))
    return lambda: vec.step(actions[next(counter) % len(actions)])


def control_table(vec: BatchedVectorEnv, actions: np.ndarray) -> np.ndarray:
    """``(len(actions), worlds, widest nu)``: the controls a batched step with each batch of ``actions`` writes."""
    return np.stack([vec.controls(batch) for batch in actions])


def raw_threads_stepper(vec: BatchedVectorEnv, table: np.ndarray, threads: int | None = None):
    """``mj_step(nstep=5)`` over the batched env's worlds, threaded over chunks, with nothing else
    but the controls: each call writes into every world's ``ctrl`` the next row of ``table``
    (``control_table`` of the batched stepper's actions), so both simulate the same kind of
    motion (held controls would drive the hands into their limits, a cheaper motion).
    """
    worlds = [(w.active.model, w.active.data, w.active.data.ctrl, [table[k, i, : w.active.model.nu] for k in range(len(table))])
              for i, w in enumerate(vec.worlds)]
    threads = threads or vec.num_threads
    chunks = [worlds[c[0] : c[-1] + 1] for c in np.array_split(np.arange(len(worlds)), min(len(worlds), 2 * threads if threads > 1 else 1))]
    counter = iter(range(10**12))

    def step_chunk(job):
        chunk, k = job
        for model, data, ctrl, controls in chunk:
            ctrl[:] = controls[k]
            mujoco.mj_step(model, data, FRAME_SKIP)

    def run():
        k = next(counter) % len(table)
        if threads == 1:
            for chunk in chunks:
                step_chunk((chunk, k))
        else:
            list(pool.map(step_chunk, [(chunk, k) for chunk in chunks]))

    pool = concurrent.futures.ThreadPoolExecutor(threads) if threads > 1 else None
    return run, pool


def raw_rollout_steppers(vec: BatchedVectorEnv, table: np.ndarray):
    """``mujoco.rollout`` of one env step (5 substeps) per world, one call per task group.

    Each world starts from its current state; controls cycle through the rows
    of ``table`` as in ``raw_threads_stepper``, so both raw paths simulate the same motion.
    """
    runner = rollout.Rollout(nthread=vec.num_threads if vec.num_threads > 1 else 0)
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    groups = []
    for task in dict.fromkeys(vec.tasks_now):
        idx = [i for i, w in enumerate(vec.worlds) if w.task == task]
        worlds = [vec.worlds[i].active for i in idx]
        models = [env.model for env in worlds]
        nu = models[0].nu
        state = np.stack([_state(env, spec) for env in worlds])
        datas = [mujoco.MjData(models[0]) for _ in range(max(1, vec.num_threads))]
        control = np.repeat(table[:, idx, None, :nu], FRAME_SKIP, axis=2)  # (actions, worlds, substeps, nu)
        out_state = np.empty((len(worlds), FRAME_SKIP, state.shape[1]))
        out_sensors = np.empty((len(worlds), FRAME_SKIP, models[0].nsensordata))
        groups.append((models, datas, state, control, out_state, out_sensors))
    counter = iter(range(10**12))

    def run():
        k = next(counter) % len(table)
        for models, datas, state, control, out_state, out_sensors in groups:
            runner.rollout(models, datas, state, control[k], nstep=FRAME_SKIP, state=out_state, sensordata=out_sensors, skip_checks=True)
            state[:] = out_state[:, -1]

    return run, runner


def _state(env, spec) -> np.ndarray:
    state = np.empty(mujoco.mj_stateSize(env.model, spec))
    mujoco.mj_getState(env.model, env.data, state, spec)
    return state


def metaworld_available() -> bool:
    try:
        import metaworld  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def quiet():
    """Meta-World warns about its observation bounds on every make; keep the tables readable."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def metaworld_single(task: str):
    import gymnasium as gym
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS  # importing metaworld registers its gym ids

    if f"{task}-v3" not in ALL_V3_ENVIRONMENTS:
        return None
    with quiet():
        env = gym.make("Meta-World/MT1", env_name=f"{task}-v3", seed=0)
        env.reset(seed=0)
    return env


def table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [[f"{c:,.0f}" if isinstance(c, float) and c >= 100 else f"{c:.2f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))


def per_task_table(args, rng) -> None:
    rows = []
    with_mw = metaworld_available() and not args.no_metaworld
    for task in args.tasks:
        env = envs.get_task(task)()
        env.reset(seed=0)
        timed = {"ours": Timed(single_env_stepper(env, rng), 1, args.single_steps)}
        if with_mw and (mw := metaworld_single(task)) is not None:
            timed["theirs"] = Timed(single_env_stepper(mw, rng), 1, args.single_steps)
        with quiet():
            rates = {name: rate for name, (rate, _, _) in measure(timed, args.repeats).items()}
        theirs = rates.get("theirs")
        rows.append([task, rates["ours"], theirs or "-", rates["ours"] / theirs if theirs else "-"])
    table("(a) single env, env-steps/s (target: ours/Meta-World >= 5)", ["task", "ours", "Meta-World v3", "ratio"], rows)


def registered_tasks(name: str) -> tuple[str, ...]:
    tasks = tuple(t for t in get_benchmark(name).train_tasks if t in envs.TASKS)
    if not tasks:
        raise SystemExit(f"none of the {name} tasks is registered")
    return tasks


def benchmark_table(args, rng, tasks) -> None:
    bench = Benchmark(f"{args.benchmark}-registered", tasks, tasks)
    threads, n = default_threads(), len(tasks)
    singles = [envs.get_task(t)() for t in tasks]
    for env in singles:
        env.reset(seed=0)
    steppers = [single_env_stepper(env, rng) for env in singles]
    sync = BenchmarkVectorEnv(bench, num_envs=n)
    sync.reset(seed=0)
    timed = {
        ("ours: single envs, one after another", n, 1): Timed(lambda: [s() for s in steppers], n, args.vector_calls),
        ("ours: BenchmarkVectorEnv (sync)", n, 1): Timed(vector_stepper(sync, action_table(rng, n)), n, args.vector_calls),
    }
    closers = []
    for worlds in sorted({n, max(args.worlds)}):
        vec = BatchedVectorEnv(bench, num_envs=worlds, num_threads=threads)
        vec.reset(seed=0)
        actions = action_table(rng, worlds)
        calls = max(3, args.vector_calls * n // worlds)
        controls = control_table(vec, actions)
        raw, pool = raw_threads_stepper(vec, controls)
        run, runner = raw_rollout_steppers(vec, controls)
        timed[("ours: BatchedVectorEnv", worlds, threads)] = Timed(vector_stepper(vec, actions), worlds, calls)
        timed[("raw mj_step bound, threaded", worlds, threads)] = Timed(raw, worlds, calls)
        timed[("raw mj_step bound, mujoco.rollout", worlds, threads)] = Timed(run, worlds, calls)
        closers += [runner.close, vec.close] + ([pool.shutdown] if pool else [])
    with_mw = metaworld_available() and not args.no_metaworld
    if with_mw:
        import gymnasium as gym

        with quiet():
            mw = gym.make_vec(f"Meta-World/{args.benchmark}", vector_strategy="sync", seed=0)
            mw.reset(seed=0)
        timed[(f"Meta-World: {args.benchmark} SyncVectorEnv", mw.num_envs, 1)] = Timed(vector_stepper(mw, action_table(rng, mw.num_envs)), mw.num_envs, args.vector_calls)
    with quiet():
        rates = measure(timed, args.repeats)
    for close in closers:
        close()
    rows = [[*key, rate, cpu] for key, (rate, cpu, _) in rates.items()]
    header = ["env", "worlds", "threads", "env-steps/s", "CPU us/step"]
    if with_mw:
        mw_rate, mw_cpu = rows[-1][3], rows[-1][4]
        rows = [row + [row[3] / mw_rate, mw_cpu / row[4]] for row in rows]
        header += ["x Meta-World (steps/s)", "x Meta-World (CPU)"]
    table(f"(b) {args.benchmark} ({n} tasks registered: {', '.join(tasks)}), env-steps/s (target: batched >= 10x Meta-World)", header, rows)


def scaling_table(args, rng, tasks) -> None:
    bench = Benchmark(f"{args.benchmark}-registered", tasks, tasks)
    thread_counts = sorted({1, min(2, default_threads()), default_threads()})
    rows = []
    for worlds in args.worlds:
        worlds = max(worlds, len(tasks))
        vec = BatchedVectorEnv(bench, num_envs=worlds, num_threads=1)
        vec.reset(seed=0)
        actions = action_table(rng, worlds)
        controls = control_table(vec, actions)
        calls = max(3, args.vector_calls * len(tasks) // worlds)
        timed, pools = {}, []
        for threads in thread_counts:

            def use(threads=threads):
                vec.num_threads = threads

            raw, pool = raw_threads_stepper(vec, controls, threads)
            pools += [pool] if pool else []
            timed[("batched", threads)] = Timed(vector_stepper(vec, actions), worlds, calls, prepare=use)
            timed[("raw", threads)] = Timed(raw, worlds, calls)
        rates = measure(timed, args.repeats)
        for threads in thread_counts:
            (rate, cpu, cores), (raw_rate, raw_cpu, _) = rates[("batched", threads)], rates[("raw", threads)]
            rows.append([worlds, threads, rate, cores, raw_rate, cpu, raw_cpu, cpu / raw_cpu])
        for pool in pools:
            pool.shutdown()
        vec.close()
    table(
        f"(c) batched {args.benchmark} scaling, env-steps/s ({default_threads()} cores; target: cost/raw <= 1.3 at 500 worlds)",
        ["worlds", "threads", "batched steps/s", "cores in use", "raw steps/s", "batched CPU us/step", "raw CPU us/step", "cost / raw (CPU)"],
        rows,
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (fewer steps and repeats), same tables")
    parser.add_argument("--tasks", nargs="+", default=None, help="tasks for table (a); default: every registered task")
    parser.add_argument("--worlds", nargs="+", type=int, default=[10, 50, 100, 500], help="world counts for table (c)")
    parser.add_argument("--no-metaworld", action="store_true", help="skip Meta-World even when installed")
    parser.add_argument("--benchmark", choices=["MT10", "MT50"], default="MT10", help="the benchmark of tables (b) and (c)")
    parser.add_argument("--only", choices=["a", "b", "c"], nargs="+", default=["a", "b", "c"], help="which tables to print")
    args = parser.parse_args(argv)
    args.tasks = args.tasks or list(envs.TASKS)
    for task in args.tasks:
        envs.get_task(task)  # unknown names fail before any timing
    args.single_steps = 300 if args.quick else 2000
    args.vector_calls = 30 if args.quick else 200
    args.repeats = 2 if args.quick else 5
    rng = np.random.default_rng(0)
    print(f"polytask env speed: mujoco {mujoco.__version__}, {default_threads()} cores, {'quick' if args.quick else 'full'} run")
    tasks = registered_tasks(args.benchmark)
    if "a" in args.only:
        per_task_table(args, rng)
    if "b" in args.only:
        benchmark_table(args, rng, tasks)
    if "c" in args.only:
        scaling_table(args, rng, tasks)


if __name__ == "__main__":
    main()
