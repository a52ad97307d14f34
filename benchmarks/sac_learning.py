"""Learning curve of MTSAC: success rate vs env steps, printed and saved as a PNG.

Trains ``agents.mtsac.MTSAC`` starting from ``agents.mtsac.REACH`` (single-task
SAC on MT1 reach with stable-baselines3's settings: 2 x 64 networks, gamma
0.95, lr 1e-3, two updates per env step); any flag overrides it. Evaluates
every ``--eval-every`` env steps on the held-out test variations.

    python benchmarks/sac_learning.py --steps 40000 --eval-every 5000 --out docs/sac_reach.png
    python benchmarks/sac_learning.py --task push --steps 100000 --out docs/sac_push.png
    python benchmarks/sac_learning.py --benchmark MT10 --surgery pcgrad --per-task-batch 64 --steps 100000
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from agents.mtsac import MTSAC, REACH, REACH_STEPS  # noqa: E402
from agents.surgery import SURGERIES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", default="MT1", help="MT1 (with --task), MT10 or MTALL")
    parser.add_argument("--task", default="reach", help="the task of MT1 (ignored otherwise)")
    parser.add_argument("--surgery", default="none", choices=SURGERIES)
    parser.add_argument("--hidden", type=int, nargs="+", default=list(REACH.hidden_sizes), help="hidden widths of actor and critics")
    parser.add_argument("--per-task-batch", type=int, default=REACH.per_task_batch)
    parser.add_argument("--lr", type=float, default=REACH.actor_lr, help="learning rate of actor, critic and temperature")
    parser.add_argument("--gamma", type=float, default=REACH.gamma)
    parser.add_argument("--tau", type=float, default=REACH.tau)
    parser.add_argument("--updates-per-step", type=int, default=REACH.updates_per_step, help="updates per vector-env step")
    parser.add_argument("--warmup", type=int, default=REACH.warmup_steps, help="vector-env steps of random actions")
    parser.add_argument("--steps", type=int, default=REACH_STEPS, help="env steps to train")
    parser.add_argument("--eval-every", type=int, default=5_000, help="env steps between evaluations")
    parser.add_argument("--eval-episodes", type=int, default=REACH.eval_episodes_per_task, help="evaluation episodes per task")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="sac_learning.png", help="where the learning-curve PNG goes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    config = dataclasses.replace(
        REACH, benchmark=args.benchmark, task=args.task if args.benchmark == "MT1" else None, surgery=args.surgery,
        hidden_sizes=tuple(args.hidden), per_task_batch=args.per_task_batch, actor_lr=args.lr, critic_lr=args.lr,
        temperature_lr=args.lr, gamma=args.gamma, tau=args.tau, updates_per_step=args.updates_per_step,
        warmup_steps=args.warmup, eval_episodes_per_task=args.eval_episodes,
    )
    agent = MTSAC(config, device=torch.device(args.device), seed=args.seed)
    print(f"{config.benchmark}, surgery {args.surgery}, hidden {args.hidden}, lr {args.lr}, gamma {args.gamma}, "
          f"tau {args.tau}, {args.updates_per_step} update(s) per step, seed {args.seed}, {args.threads} thread(s)")
    print(f"{'env steps':>10} {'success':>8} {'return':>8} {'train min':>10} {'wall min':>9}")
    steps, success, train_seconds, wall_started = [], [], 0.0, time.perf_counter()
    next_eval = args.eval_every
    while agent.progress() < args.steps:
        started = time.perf_counter()
        while agent.progress() < min(next_eval, args.steps):
            agent.step()
        train_seconds += time.perf_counter() - started
        report = agent.evaluate()
        steps.append(agent.progress())
        success.append(report.mean("success_rate"))
        print(f"{agent.progress():>10} {success[-1]:>8.2f} {report.mean('episode_return'):>8.1f} {train_seconds / 60:>10.1f} "
              f"{(time.perf_counter() - wall_started) / 60:>9.1f}", flush=True)
        next_eval += args.eval_every
        # after every evaluation, so that a run cut short still leaves its curve so far
        save_curve(steps, success, f"MTSAC on {config.benchmark} ({args.surgery}), seed {args.seed}", args.out)
    print(report.format())
    print(f"wrote {args.out}")


def save_curve(steps: list[int], success: list[float], title: str, out: str) -> None:
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(steps, success, marker="o")
    axis.set(xlabel="env steps", ylabel="success rate (test variations)", ylim=(-0.02, 1.02), title=title)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)


if __name__ == "__main__":
    main()
