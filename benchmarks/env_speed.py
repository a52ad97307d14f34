"""Environment speed: env-steps per second of our envs, Meta-World's, and raw MuJoCo.

Prints three tables:

(a) per task, one env stepped with random actions: ours and, where
    ``metaworld`` is installed, Meta-World's same-named v3 task made through
    its documented API (``gymnasium.make("Meta-World/MT1", env_name=...)``),
    with the ratio (target: ours >= 5x);
(b) MT10 (the MT10 tasks registered here): our single env, our
    ``BenchmarkVectorEnv`` (sync), our ``BatchedVectorEnv`` at 10 and at the
    largest world count, the raw ``mj_step(nstep=5)`` bound of the same models
    (threaded, and through ``mujoco.rollout``; no observation, no reward), and
    Meta-World's MT10 synchronous vector env (targets: batched >= 10x
    Meta-World; batched cost per step <= 1.3x raw at 500 worlds);
(c) batched MT10 over worlds x threads, with the raw bound at each point.

Every number is the best of ``--repeats`` timed runs (the least disturbed by
other load). Run from the repository root::

    python -m benchmarks.env_speed            # full
    python -m benchmarks.env_speed --quick    # shorter runs, same tables
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import io
import time
import warnings

import mujoco
import numpy as np
from mujoco import rollout

import envs
from envs.base import FRAME_SKIP
from envs.batched import BatchedVectorEnv, default_threads
from envs.benchmarks import MT10_TASKS, Benchmark
from envs.vector import BenchmarkVectorEnv


def best_rate(run, steps_per_call: int, calls: int, repeats: int, with_cpu: bool = False):
    """Steps per second of ``run()`` (one call = ``steps_per_call`` env steps), best of ``repeats``.

    ``with_cpu`` also returns the cores in use during the best run (process CPU
    time / wall time): when threads do not raise throughput, this tells a busy
    machine (cores in use ~ threads) from work that does not run in parallel (~1).
    """
    run()  # warm up: thread pools, caches
    best, cores = float("inf"), 0.0
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            run()
        wall = time.perf_counter() - start
        if wall < best:
            best, cores = wall, (time.process_time() - cpu) / wall
    rate = steps_per_call * calls / best
    return (rate, cores) if with_cpu else rate


def single_env_stepper(env, rng):
    actions = rng.uniform(-1, 1, (512, 4)).astype(np.float32)
    counter = iter(range(10**12))

    def run():
        _, _, terminated, truncated, _ = env.step(actions[next(counter) % 512])
        if terminated or truncated:
            env.reset()

    return run


def vector_stepper(vec, rng):
    actions = rng.uniform(-1, 1, (64, vec.num_envs, 4)).astype(np.float32)
    counter = iter(range(10**12))
    return lambda: vec.step(actions[next(counter) % 64])


def raw_threads_stepper(vec: BatchedVectorEnv):
    """``mj_step(nstep=5)`` over the batched env's worlds, threaded over chunks, nothing else."""
    pairs = [(world.active.model, world.active.data) for world in vec.worlds]
    threads = vec.num_threads
    chunks = [pairs[c[0] : c[-1] + 1] for c in np.array_split(np.arange(len(pairs)), min(len(pairs), 2 * threads if threads > 1 else 1))]

    def step_chunk(chunk):
        for model, data in chunk:
            mujoco.mj_step(model, data, FRAME_SKIP)

    if threads == 1:
        return lambda: [step_chunk(c) for c in chunks], None
    pool = concurrent.futures.ThreadPoolExecutor(threads)
    return lambda: list(pool.map(step_chunk, chunks)), pool


def raw_rollout_steppers(vec: BatchedVectorEnv):
    """``mujoco.rollout`` of one env step (5 substeps) per world, one call per task group."""
    runner = rollout.Rollout(nthread=vec.num_threads if vec.num_threads > 1 else 0)
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    groups = []
    for task in dict.fromkeys(vec.tasks_now):
        worlds = [w.active for w in vec.worlds if w.task == task]
        models = [env.model for env in worlds]
        state = np.stack([_state(env, spec) for env in worlds])
        datas = [mujoco.MjData(models[0]) for _ in range(max(1, vec.num_threads))]
        control = np.zeros((len(worlds), FRAME_SKIP, models[0].nu))
        out_state = np.empty((len(worlds), FRAME_SKIP, state.shape[1]))
        out_sensors = np.empty((len(worlds), FRAME_SKIP, models[0].nsensordata))
        groups.append((models, datas, state, control, out_state, out_sensors))

    def run():
        for models, datas, state, control, out_state, out_sensors in groups:
            runner.rollout(models, datas, state, control, nstep=FRAME_SKIP, state=out_state, sensordata=out_sensors, skip_checks=True)
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
    import metaworld
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS

    if f"{task}-v3" not in ALL_V3_ENVIRONMENTS:
        return None
    with quiet():
        env = gym.make("Meta-World/MT1", env_name=f"{task}-v3", seed=0)
        env.reset(seed=0)
    del metaworld
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
        ours = best_rate(single_env_stepper(env, rng), 1, args.single_steps, args.repeats)
        theirs = None
        if with_mw and (mw := metaworld_single(task)) is not None:
            with quiet():
                theirs = best_rate(single_env_stepper(mw, rng), 1, args.single_steps, args.repeats)
        rows.append([task, ours, theirs if theirs is not None else "-", ours / theirs if theirs else "-"])
    table("(a) single env, env-steps/s (target: ours/Meta-World >= 5)", ["task", "ours", "Meta-World v3", "ratio"], rows)


def mt10_tasks() -> tuple[str, ...]:
    tasks = tuple(t for t in MT10_TASKS if t in envs.TASKS)
    if not tasks:
        raise SystemExit("none of the MT10 tasks is registered")
    return tasks


def mt10_table(args, rng, tasks) -> None:
    bench = Benchmark("MT10-registered", tasks, tasks)
    threads = default_threads()
    rows = []
    singles = [envs.get_task(t)() for t in tasks]
    for env in singles:
        env.reset(seed=0)
    steppers = [single_env_stepper(env, rng) for env in singles]
    single = best_rate(lambda: [s() for s in steppers], len(tasks), args.vector_calls, args.repeats)
    rows.append(["ours: single envs, one after another", len(tasks), 1, single])
    sync = BenchmarkVectorEnv(bench, num_envs=len(tasks))
    sync.reset(seed=0)
    rows.append(["ours: BenchmarkVectorEnv (sync)", len(tasks), 1, best_rate(vector_stepper(sync, rng), len(tasks), args.vector_calls, args.repeats)])
    for worlds in sorted({len(tasks), max(args.worlds)}):
        vec = BatchedVectorEnv(bench, num_envs=worlds, num_threads=threads)
        vec.reset(seed=0)
        calls = max(3, args.vector_calls * len(tasks) // worlds)
        rate = best_rate(vector_stepper(vec, rng), worlds, calls, args.repeats)
        rows.append(["ours: BatchedVectorEnv", worlds, threads, rate])
        raw, pool = raw_threads_stepper(vec)
        rows.append(["raw mj_step bound, threaded", worlds, threads, best_rate(raw, worlds, calls, args.repeats)])
        run, runner = raw_rollout_steppers(vec)
        rows.append(["raw mj_step bound, mujoco.rollout", worlds, threads, best_rate(run, worlds, calls, args.repeats)])
        runner.close()
        if pool is not None:
            pool.shutdown()
        vec.close()
    if metaworld_available() and not args.no_metaworld:
        import gymnasium as gym

        with quiet():
            mw = gym.make_vec("Meta-World/MT10", vector_strategy="sync", seed=0)
            mw.reset(seed=0)
            mw_rate = best_rate(vector_stepper(mw, rng), mw.num_envs, args.vector_calls, args.repeats)
        rows.append(["Meta-World: MT10 SyncVectorEnv", mw.num_envs, 1, mw_rate])
        rows = [row + [row[3] / mw_rate] for row in rows]
        header = ["env", "worlds", "threads", "env-steps/s", "x Meta-World MT10"]
    else:
        header = ["env", "worlds", "threads", "env-steps/s"]
    table(f"(b) MT10 ({len(tasks)} tasks registered: {', '.join(tasks)}), env-steps/s (target: batched >= 10x Meta-World)", header, rows)


def scaling_table(args, rng, tasks) -> None:
    bench = Benchmark("MT10-registered", tasks, tasks)
    thread_counts = sorted({1, min(2, default_threads()), default_threads()})
    rows = []
    for worlds in args.worlds:
        worlds = max(worlds, len(tasks))
        vec = BatchedVectorEnv(bench, num_envs=worlds, num_threads=1)
        vec.reset(seed=0)
        calls = max(3, args.vector_calls * len(tasks) // worlds)
        for threads in thread_counts:
            vec.num_threads = threads
            rate, cores = best_rate(vector_stepper(vec, rng), worlds, calls, args.repeats, with_cpu=True)
            raw, pool = raw_threads_stepper(vec)
            raw_rate = best_rate(raw, worlds, calls, args.repeats)
            if pool is not None:
                pool.shutdown()
            rows.append([worlds, threads, rate, cores, raw_rate, raw_rate / rate])
        vec.close()
    table(
        f"(c) batched MT10 scaling, env-steps/s ({default_threads()} cores; target: cost/raw <= 1.3 at 500 worlds)",
        ["worlds", "threads", "batched", "cores in use", "raw mj_step", "cost / raw"],
        rows,
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (fewer steps and repeats), same tables")
    parser.add_argument("--tasks", nargs="+", default=None, help="tasks for table (a); default: every registered task")
    parser.add_argument("--worlds", nargs="+", type=int, default=[10, 50, 100, 500], help="world counts for table (c)")
    parser.add_argument("--no-metaworld", action="store_true", help="skip Meta-World even when installed")
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
    tasks = mt10_tasks()
    if "a" in args.only:
        per_task_table(args, rng)
    if "b" in args.only:
        mt10_table(args, rng, tasks)
    if "c" in args.only:
        scaling_table(args, rng, tasks)


if __name__ == "__main__":
    main()
