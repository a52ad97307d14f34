"""Cost of one MT-SAC update, eager against compiled, for every surgery; and the default preset end to end.

Table (a): one update (twin critic, actor, per-task temperatures, both
surgeries, Polyak averaging; ``agents.sac_networks``) on a synthetic
task-balanced batch, for each network size and task count, eager and
compiled (``torch.compile`` of the whole update, ``agents.sac_update``)
alternating round by round so that load on the machine hits both alike.
Medians over rounds; "first call" is the compiled update's first call
(compilation, from Inductor's on-disk cache when it has the graph); "GEMM
share" is the part of the eager update spent in matrix products, which a
compiler keeps: the lowest compiled/eager can reach without fewer of them. Table
(b): env steps per second of the default preset (``mt10-pcgrad``) after its
warm-up, eager and compiled, its vector steps alternating in blocks.

    python benchmarks/update_speed.py                     # both tables (about 30 min on 2 CPU cores)
    python benchmarks/update_speed.py --sizes small --tasks 10 --rounds 5 --no-end-to-end
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from agents.buffer import TransitionBatch
from agents.mtsac import MTSAC, MTSACConfig
from agents.sac_networks import SACNetworks
from agents.surgery import SURGERIES
from envs.layout import ACTION_DIM, OBS_DIM
from launch.algorithms import DEFAULT_PRESET, get_preset

#: name -> (hidden sizes, transitions per task per update): the default preset's, the literature's MT10 size,
#: and a tiny one for smoke tests
SIZES = {"small": ((64, 64), 64), "large": ((400, 400, 400), 128), "tiny": ((16, 16), 8)}


def synthetic_batch(num_tasks: int, per_task: int, device: torch.device, seed: int) -> TransitionBatch:
    generator = torch.Generator().manual_seed(seed)
    shape = (num_tasks, per_task)

    def draw(*tail):
        return torch.randn(*shape, *tail, generator=generator).to(device)

    return TransitionBatch(obs=draw(OBS_DIM), action=draw(ACTION_DIM).tanh(), reward=draw().abs(), next_obs=draw(OBS_DIM),
                           terminated=torch.zeros(shape, device=device), truncated=torch.zeros(shape, device=device),
                           task_id=torch.arange(num_tasks, device=device).unsqueeze(1).expand(shape).contiguous())


def timed(run, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def update_times(num_tasks: int, size: str, surgery: str, rounds: int, per_round: int, device: torch.device) -> dict:
    hidden, per_task = SIZES[size]
    batch = synthetic_batch(num_tasks, per_task, device, seed=0)
    learners = {mode: SACNetworks(MTSACConfig(hidden_sizes=hidden, per_task_batch=per_task, surgery=surgery, compile=mode),
                                  num_tasks, device, seed=0) for mode in ("off", "on")}
    first_call = timed(lambda: learners["on"].update(batch), device)
    learners["off"].update(batch)
    times = {mode: [] for mode in learners}
    for _ in range(rounds):
        for mode, learner in learners.items():
            times[mode].append(min(timed(lambda: learner.update(batch), device) for _ in range(per_round)))
    return {"eager": statistics.median(times["off"]), "compiled": statistics.median(times["on"]), "first_call": first_call,
            "gemm_share": gemm_share(lambda: learners["off"].update(batch), device)}


#: the matrix products of an update: what a compiler cannot make cheaper without doing fewer of them
GEMM_OPS = {"aten::mm", "aten::bmm", "aten::addmm", "aten::baddbmm"}


def gemm_share(run, device: torch.device, repeats: int = 2) -> float:
    """The part of ``run()``'s wall time spent in matrix products (torch.profiler's self time of ``GEMM_OPS``,
    over the wall time of the same profiled calls, so that both see the same load on the machine).

    Compilation fuses and removes the other operators and the Python between them; the products stay, so this
    is how low compiled / eager can go while the products already run at the core's speed.
    """
    activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch.profiler.profile(activities=activities) as profile:
        wall = sum(timed(run, device) for _ in range(repeats))
    attribute = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    microseconds = sum(getattr(event, attribute) for event in profile.key_averages() if event.key in GEMM_OPS)
    return microseconds * 1e-6 / wall


def update_table(args, device: torch.device) -> None:
    print(f"(a) one MT-SAC update, {device}, {torch.get_num_threads()} thread(s); median over {args.rounds} alternating rounds "
          f"of the best of {args.per_round}")
    print(f"{'T':>4} {'size':>14} {'surgery':>8} {'eager ms':>9} {'compiled ms':>12} {'compiled/eager':>15} "
          f"{'vs none compiled':>17} {'first call s':>13} {'GEMM share':>11}")
    for num_tasks in args.tasks:
        for size in args.sizes:
            hidden, per_task = SIZES[size]
            label = f"{'x'.join(map(str, hidden))}/{per_task}"
            baseline = None
            for surgery in args.surgeries:
                result = update_times(num_tasks, size, surgery, args.rounds, args.per_round, device)
                baseline = result["compiled"] if surgery == "none" else baseline
                versus = f"{result['compiled'] / baseline:>16.2f}x" if baseline else f"{'':>17}"
                print(f"{num_tasks:>4} {label:>14} {surgery:>8} {result['eager'] * 1e3:>9.2f} {result['compiled'] * 1e3:>12.2f} "
                      f"{result['compiled'] / result['eager']:>15.2f} {versus} {result['first_call']:>13.1f} "
                      f"{result['gemm_share']:>11.2f}", flush=True)


def end_to_end(args, device: torch.device) -> None:
    config, env, _ = get_preset(DEFAULT_PRESET).build()
    agents = {mode: MTSAC(dataclasses.replace(config, compile=mode), env=env, device=device, seed=1) for mode in ("off", "on")}
    for agent in agents.values():  # past the warm-up and the compiled update's first call
        while agent.vector_steps <= config.warmup_steps:
            agent.step()
    seconds = {mode: 0.0 for mode in agents}
    steps = {mode: 0 for mode in agents}
    for _ in range(args.blocks):
        for mode, agent in agents.items():
            before = agent.progress()
            seconds[mode] += timed(lambda: [agent.step() for _ in range(args.block_steps)], device)
            steps[mode] += agent.progress() - before
    rates = {mode: steps[mode] / seconds[mode] for mode in agents}
    print(f"\n(b) {DEFAULT_PRESET} end to end after its warm-up: {args.blocks} alternating blocks of {args.block_steps} vector steps "
          f"({agents['on'].collector.num_envs} worlds, {config.updates_per_step} updates per vector step)")
    print(f"{'update':>9} {'env steps/s':>12}")
    print(f"{'eager':>9} {rates['off']:>12.0f}\n{'compiled':>9} {rates['on']:>12.0f}\n{'ratio':>9} {rates['on'] / rates['off']:>11.2f}x")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, nargs="+", default=[10, 50], help="task counts T")
    parser.add_argument("--sizes", nargs="+", choices=SIZES, default=["small", "large"], help="network sizes (hidden/per-task batch)")
    parser.add_argument("--surgeries", nargs="+", choices=SURGERIES, default=list(SURGERIES),
                        help="surgeries to time ('none' first gives the 'vs none compiled' column)")
    parser.add_argument("--rounds", type=int, default=7, help="alternating eager/compiled rounds per row")
    parser.add_argument("--per-round", type=int, default=3, help="updates per round (the best is kept)")
    parser.add_argument("--blocks", type=int, default=4, help="end to end: alternating blocks per update mode")
    parser.add_argument("--block-steps", type=int, default=250, help="end to end: vector steps per block")
    parser.add_argument("--no-end-to-end", action="store_true", help="skip table (b)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args(argv)
    args.surgeries = sorted(set(args.surgeries), key=SURGERIES.index)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    update_table(args, device)
    if not args.no_end_to_end:
        end_to_end(args, device)


if __name__ == "__main__":
    main()
