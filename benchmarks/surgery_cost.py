"""Cost of gradient surgery: one critic update of each surgery, relative to ``none``.

The critic is MTSAC's twin Q network (3 x 400 hidden, one-hot conditioning) on
a batch of ``--per-task-batch`` transitions of every one of T tasks; one
update = per-task losses -> combined gradient -> Adam step. Surgeries are
timed round-robin (so load on the machine hits them alike) and the table
shows medians and ratios to ``none``.

    python benchmarks/surgery_cost.py --tasks 10 50 --repeats 15
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.func import functional_call

from agents.networks import TwinCritic
from agents.surgery import SURGERIES, make_surgery
from envs.base import ACTION_DIM, OBS_DIM


def critic_update_timer(num_tasks: int, per_task_batch: int, hidden: tuple[int, ...], surgery_name: str, device: torch.device):
    """A closure running one critic update of ``surgery_name``; returns seconds."""
    generator = torch.Generator().manual_seed(0)
    critic = TwinCritic(OBS_DIM, ACTION_DIM, num_tasks, hidden, "one_hot").to(device)
    optimizer = torch.optim.Adam(critic.parameters(), lr=3e-4)
    surgery = make_surgery(surgery_name, num_tasks, device, seed=0)
    shape = (num_tasks, per_task_batch)
    batch = (
        torch.randn(*shape, OBS_DIM, generator=generator).to(device),
        torch.rand(*shape, ACTION_DIM, generator=generator).mul(2).sub(1).to(device),
        torch.rand(*shape, generator=generator).mul(100).to(device) + 1.0,  # positive targets keep FAMO's losses > 0
        torch.arange(num_tasks).unsqueeze(1).expand(shape).to(device),
    )

    def task_loss(params, task_batch):
        obs, action, target, task_id = task_batch
        q = functional_call(critic, params, (obs, action, task_id))
        return (q - target.unsqueeze(-1)).pow(2).mean(0).sum()

    def run() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        surgery.step(critic, optimizer, task_loss, batch)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, nargs="+", default=[10, 50], help="task counts T to measure")
    parser.add_argument("--per-task-batch", type=int, default=128, help="transitions of every task per update")
    parser.add_argument("--hidden", type=int, nargs="+", default=[400, 400, 400], help="hidden widths of each Q network")
    parser.add_argument("--repeats", type=int, default=15, help="timed updates per surgery (after 2 warm-up ones)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    print(f"critic update time, twin Q {'x'.join(map(str, args.hidden))}, {args.per_task_batch} samples per task, "
          f"device {device}, {args.threads} thread(s), median of {args.repeats}")
    print(f"{'T':>4}  {'surgery':<8} {'median ms':>10} {'vs none':>8}")
    for num_tasks in args.tasks:
        timers = {name: critic_update_timer(num_tasks, args.per_task_batch, tuple(args.hidden), name, device) for name in SURGERIES}
        times: dict[str, list[float]] = {name: [] for name in SURGERIES}
        for repeat in range(args.repeats + 2):
            for name, timer in timers.items():
                elapsed = timer()
                if repeat >= 2:
                    times[name].append(elapsed)
        baseline = statistics.median(times["none"])
        for name in SURGERIES:
            median = statistics.median(times[name])
            print(f"{num_tasks:>4}  {name:<8} {median * 1e3:>10.1f} {median / baseline:>7.2f}x")


if __name__ == "__main__":
    main()
