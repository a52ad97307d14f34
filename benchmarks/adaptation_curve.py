"""Learning curves of meta-RL runs: pre- and post-adaptation success over training.

Reads the ``curves.csv`` a run of ``python -m launch train`` writes (its
periodic evaluations by the adapt-then-evaluate protocol) and draws the
``mean`` row's ``pre_success`` and ``post_success`` against env steps, one pair
of lines per run (several runs: one colour each), and prints them as a table::

    python -m benchmarks.adaptation_curve runs/ml1-reach-maml-s1 --out docs/maml_ml1_reach.png
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def read_curve(run: Path, task: str = "mean") -> list[tuple[int, float, float]]:
    """(env steps, pre_success, post_success) of every evaluation of ``task`` (default: the mean over tasks)."""
    with open(run / "curves.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["task"] == task]
    if not rows or "post_success" not in rows[0]:
        raise SystemExit(f"{run}: curves.csv holds no pre/post adaptation evaluations of {task!r}")
    return [(int(row["progress"]), float(row["pre_success"]), float(row["post_success"])) for row in rows]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories")
    parser.add_argument("--out", type=Path, default=Path("adaptation_curve.png"))
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.6))
    for colour, run in enumerate(args.runs):
        curve = read_curve(run)
        steps = [point[0] / 1e6 for point in curve]
        print(f"{run.name}\n| env steps | pre_success | post_success |\n|---|---|---|")
        for step, pre, post in curve:
            print(f"| {step:,} | {pre:.2f} | {post:.2f} |")
        axes.plot(steps, [p[2] for p in curve], color=f"C{colour}", marker="o", label=f"{run.name}: post-adaptation")
        axes.plot(steps, [p[1] for p in curve], color=f"C{colour}", marker="o", linestyle="--", label=f"{run.name}: pre-adaptation")
    axes.set_xlabel("env steps (millions)")
    axes.set_ylabel("meta-test success")
    axes.set_ylim(-0.02, 1.02)
    axes.set_title(args.title or ", ".join(run.name for run in args.runs))
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
