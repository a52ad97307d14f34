"""Learning curve of MTSAC: success rate vs env steps, printed and saved as a PNG.

Trains ``agents.mtsac.MTSAC`` (default: single-task SAC on MT1 reach with
2 x 256 networks) and evaluates every ``--eval-every`` env steps on the
held-out test variations.

    python benchmarks/sac_learning.py --steps 30000 --eval-every 5000 --out sac_reach.png
    python benchmarks/sac_learning.py --benchmark MT10 --surgery pcgrad --hidden 400 400 400 --steps 200000
"""

from __future__ import annotations

import argparse
import time

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from agents.mtsac import MTSAC, MTSACConfig  # noqa: E402
from agents.surgery import SURGERIES  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", default="MT1", help="MT1 (with --task), MT10 or MTALL")
    parser.add_argument("--task", default="reach", help="the task of MT1 (ignored otherwise)")
    parser.add_argument("--surgery", default="none", choices=SURGERIES)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256], help="hidden widths of actor and critics")
    parser.add_argument("--per-task-batch", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=2_000, help="vector-env steps of random actions")
    parser.add_argument("--steps", type=int, default=30_000, help="env steps to train")
    parser.add_argument("--eval-every", type=int, default=5_000, help="env steps between evaluations")
    parser.add_argument("--eval-episodes", type=int, default=10, help="evaluation episodes per task")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="sac_learning.png", help="where the learning-curve PNG goes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    config = MTSACConfig(
        benchmark=args.benchmark, task=args.task if args.benchmark == "MT1" else None, surgery=args.surgery,
        hidden_sizes=tuple(args.hidden), per_task_batch=args.per_task_batch, warmup_steps=args.warmup,
        eval_episodes_per_task=args.eval_episodes,
    )
    agent = MTSAC(config, device=torch.device(args.device), seed=args.seed)
    print(f"{agent.benchmark.name}, surgery {args.surgery}, hidden {args.hidden}, seed {args.seed}, {args.threads} thread(s)")
    print(f"{'env steps':>10} {'success':>8} {'return':>8} {'train min':>10}")
    steps, success, train_seconds = [], [], 0.0
    next_eval = args.eval_every
    while agent.progress() < args.steps:
        started = time.perf_counter()
        while agent.progress() < min(next_eval, args.steps):
            agent.step()
        train_seconds += time.perf_counter() - started
        report = agent.evaluate()
        steps.append(agent.progress())
        success.append(report.mean("success_rate"))
        print(f"{agent.progress():>10} {success[-1]:>8.2f} {report.mean('episode_return'):>8.1f} {train_seconds / 60:>10.1f}", flush=True)
        next_eval += args.eval_every
    print(report.format())

    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(steps, success, marker="o")
    axis.set(xlabel="env steps", ylabel="success rate (test variations)", ylim=(-0.02, 1.02),
             title=f"MTSAC on {agent.benchmark.name} ({args.surgery}), seed {args.seed}")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
