"""MSR's synthetic table: MAML-FC, MAML-LC, MAML-Conv and MSR-FC on k = 1, 2, 5.

Reproduces Table 1 of Zhou, Knowles & Finn, "Meta-Learning Symmetries by
Reparameterization" (ICLR 2021): test MSE on 300 meta-test tasks after one
inner step from one support example.  Every cell trains ``--steps`` outer
updates per seed (``meta.symmetry.MSR`` / ``MAML``, their default setup) and
prints, beside the paper's value, the mean over seeds, the mean 95% interval
over test tasks, the spread over seeds and the cell's wall-clock.  The issue's
acceptance targets are checked at the end.  Cells run in ``--workers``
processes of one thread each.

    python benchmarks/msr_table.py                          # the whole table, 3 seeds
    python benchmarks/msr_table.py --models msr --problems k2 --seeds 0
    python benchmarks/msr_table.py --figure docs/msr_sharing_k1.png --steps 1500

``--figure`` instead trains MSR on k1 and draws the weight-sharing pattern its
``U`` implies next to a true convolution's (the paper's Figure 3).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from pathlib import Path

import torch

from meta.symmetry import MAML, MSR, MAMLConfig, MSRConfig, conv_sharing_matrix

#: Table 1 of the paper: (mean, 95% interval) of test MSE for k = 1, 2, 5
PAPER = {
    "maml-fc": {"k1": (3.2, 0.29), "k2": (2.1, 0.15), "k5": (0.89, 0.05)},
    "maml-lc": {"k1": (2.4, 0.23), "k2": (1.6, 0.11), "k5": (0.81, 0.05)},
    "maml-conv": {"k1": (0.16, 0.02), "k2": (0.52, 0.05), "k5": (0.44, 0.02)},
    "msr": {"k1": (0.18, 0.03), "k2": (0.21, 0.02), "k5": (0.22, 0.01)},
}
NAMES = {"maml-fc": "MAML-FC", "maml-lc": "MAML-LC", "maml-conv": "MAML-Conv", "msr": "MSR-FC"}
PROBLEMS = ("k1", "k2", "k5")


def make_learner(model: str, problem: str, seed: int, device: torch.device = torch.device("cpu")):
    if model == "msr":
        return MSR(MSRConfig(problem=problem), device=device, seed=seed)
    if model.startswith("maml-"):
        return MAML(MAMLConfig(problem=problem, model=model[len("maml-") :]), device=device, seed=seed)
    raise ValueError(f"model must be one of {sorted(NAMES)}, got {model!r}")


def train_learner(model: str, problem: str, seed: int, steps: int):
    """A learner after ``steps`` outer updates on one thread."""
    torch.set_num_threads(1)
    learner = make_learner(model, problem, seed)
    for _ in range(steps):
        learner.step()
    return learner


def run_cell(job: tuple[str, str, int, int]) -> dict:
    """Train one (model, problem, seed) for ``steps`` outer updates; its test MSE and wall-clock."""
    model, problem, seed, steps = job
    start = time.perf_counter()
    row = train_learner(model, problem, seed, steps).evaluate().rows[problem]
    return dict(model=model, problem=problem, seed=seed, steps=steps, wall_s=time.perf_counter() - start, **row)


def summarise(results: list[dict], model: str, problem: str) -> dict | None:
    runs = [r for r in results if r["model"] == model and r["problem"] == problem]
    if not runs:
        return None
    mses = [r["test_mse"] for r in runs]
    return dict(
        mean=sum(mses) / len(mses),
        ci95=sum(r["test_mse_ci95"] for r in runs) / len(runs),
        low=min(mses),
        high=max(mses),
        wall_s=sum(r["wall_s"] for r in runs),
        seeds=len(runs),
    )


def format_table(results: list[dict], models, problems) -> str:
    header = f"{'model':<10}" + "".join(f"{'k = ' + p[1:]:<40}" for p in problems)
    sub = f"{'':<10}" + "".join(f"{'ours ± ci [seed range] (paper) seconds':<40}" for _ in problems)
    lines = [header, sub, "-" * len(sub)]
    for model in models:
        cells = []
        for problem in problems:
            s = summarise(results, model, problem)
            paper = PAPER[model][problem]
            if s is None:
                cells.append(f"{'-':<40}")
                continue
            text = f"{s['mean']:.3f}±{s['ci95']:.2f} [{s['low']:.2f}-{s['high']:.2f}] ({paper[0]:.2f}) {s['wall_s']:.0f}"
            cells.append(f"{text:<40}")
        lines.append(f"{NAMES[model]:<10}" + "".join(cells))
    return "\n".join(lines)


def acceptance(results: list[dict]) -> list[tuple[str, bool]]:
    """The issue's targets, for the cells that were run."""
    checks = []
    for model in ("maml-fc", "maml-conv", "msr"):
        for problem in PROBLEMS:
            s = summarise(results, model, problem)
            if s is not None:
                paper = PAPER[model][problem][0]
                ok = 0.5 * paper <= s["mean"] <= 1.5 * paper
                checks.append((f"{NAMES[model]} {problem}: {s['mean']:.3f} within ±50% of {paper}", ok))
    for problem in ("k2", "k5"):
        msr, conv = summarise(results, "msr", problem), summarise(results, "maml-conv", problem)
        if msr is not None:
            checks.append((f"MSR-FC {problem}: {msr['mean']:.3f} <= 0.25", msr["mean"] <= 0.25))
        if msr is not None and conv is not None:
            checks.append((f"MSR-FC {problem} beats MAML-Conv ({conv['mean']:.3f})", msr["mean"] < conv["mean"]))
    return checks


def draw_sharing_figure(path: Path, steps: int, seed: int) -> None:
    """Train MSR on k1 and save its U-implied sharing pattern beside a convolution's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    learner = train_learner("msr", "k1", seed, steps)
    mse = learner.evaluate().rows["k1"]["test_mse"]
    learned = learner.sharing_pattern()  # (3, 68, 70)
    conv = conv_sharing_matrix(70, 3)
    true = conv.T.reshape(3, 68, 70)
    # share of U's squared norm inside the span of the convolution's U (its columns are orthogonal, norm^2 = 68)
    sharing = learned.reshape(3, -1).T
    in_span = float((conv @ (conv.T @ sharing) / 68).square().sum() / sharing.square().sum())
    crop = (slice(0, 16), slice(0, 18))  # the pattern repeats along the diagonal; show its corner
    fig, axes = plt.subplots(2, 3, figsize=(9, 6.2))
    for col in range(3):
        for row, (pattern, label) in enumerate(((learned, "MSR, learned U"), (true, "convolution"))):
            block = pattern[col][crop]
            scale = float(block.abs().max()) or 1.0
            ax = axes[row, col]
            ax.imshow(block, cmap="RdBu_r", vmin=-scale, vmax=scale)
            ax.set_title(f"{label}: column {col + 1}", fontsize=9)
            ax.set_xticks(range(0, 18, 4))
            ax.set_yticks(range(0, 16, 4))
            ax.set_xlabel("input position")
            ax.set_ylabel("output position")
    fig.suptitle(
        f"Weight sharing implied by U on k = 1 (corner of the 68 x 70 weight). Top: MSR after {steps} outer steps, "
        f"seed {seed},\ntest MSE {mse:.3f}, {100 * in_span:.1f}% of U in the convolution's span. Bottom: a true convolution.",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path} (test MSE {mse:.3f} after {steps} steps; {100 * in_span:.1f}% of U in the convolution's span)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(NAMES), choices=list(NAMES), help="rows of the table")
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS, help="columns (rank k)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="learner seeds per cell")
    parser.add_argument("--steps", type=int, default=MSR.default_budget, help="outer updates per run")
    parser.add_argument("--workers", type=int, default=2, help="processes (one thread each)")
    parser.add_argument("--json", type=Path, default=None, help="also write every run's result here")
    parser.add_argument("--figure", type=Path, default=None, help="draw the k1 sharing figure here instead")
    args = parser.parse_args()
    if args.steps < 1 or args.workers < 1:
        parser.error(f"--steps and --workers must be positive, got {args.steps} and {args.workers}")
    if args.figure is not None:
        draw_sharing_figure(args.figure, args.steps, args.seeds[0])
        return

    jobs = [(m, p, s, args.steps) for m in args.models for p in args.problems for s in args.seeds]
    # the slowest cells first, so the pool ends together
    order = {"maml-fc": 0, "maml-lc": 2, "maml-conv": 1, "msr": 3}
    jobs.sort(key=lambda job: -order[job[0]])
    start = time.perf_counter()
    if args.workers == 1:
        results = [run_cell(job) for job in jobs]
    else:
        with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
            results = pool.map(run_cell, jobs, chunksize=1)
    wall = time.perf_counter() - start
    print(f"MSR Table 1, test MSE over 300 meta-test tasks; {args.steps} outer steps, seeds {args.seeds}")
    print("ours: mean over seeds ± mean 95% interval over test tasks [range over seeds] (paper) run seconds summed over seeds\n")
    print(format_table(results, args.models, args.problems))
    print(f"\nwall-clock {wall:.0f} s with {args.workers} worker(s)\n")
    for text, ok in acceptance(results):
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    if args.json is not None:
        args.json.write_text(json.dumps(dict(steps=args.steps, wall_s=wall, runs=results), indent=2))


if __name__ == "__main__":
    main()
