"""Learned optimizers against tuned Adam: speedup on held-out and out-of-distribution tasks, and cost per step.

For each task (``meta.lopt.tasks.held_out_tasks``: the family's held-out
tasks; ``meta.lopt.ood_tasks``: wider and deeper MLPs, a convnet, a
transformer block, a SAC critic), every baseline and every meta-trained run
trains the task from the same initialisation on the same minibatches for
``--steps`` steps.  Adam is run at every rate of ``ADAM_LRS`` for twice as
long and its lower envelope is the reference (``meta.lopt.evaluation``);
SGD with momentum 0.9, AdamW (weight decay 0.01) and Adam with a linear
decay to zero get the same sweep and are scored at their best rate.  A cell is the speedup over tuned Adam (``>``
marks a lower bound: Adam never reached that loss); a learned optimizer's
cell is the median over its meta-training seeds (the runs given), with
their range.  The summary is each run's median speedup over the held-out
tasks, then the median over seeds.  Then: the wall-clock of one
``optimizer.step()`` on an MLP of about 1M parameters, relative to Adam's,
in the same run.  ``--without-network`` adds, for every ``lopt-nominal`` run, a
column of the same meta-weights with the MLP's output layer zeroed: its Adam
term and learned schedule alone, which says what the MLP's step adds.

    python -m launch train lopt-mlp --run.seed 1        # and seeds 2, 3; lopt-nominal, lopt-velo likewise
    python -m benchmarks.lopt_table runs/lopt-mlp-s1 runs/lopt-mlp-s2 runs/lopt-mlp-s3 \\
        --json docs/lopt_table.json --plot docs/lopt_curves.png
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from meta.lopt.evaluation import ADAM_HORIZON_MULT, ADAM_LRS, adam_envelope, speedup, train_curve
from meta.lopt.ood_tasks import OOD_TASKS, ood_task
from meta.lopt.optimizer import LearnedOptimizer
from meta.lopt.tasks import Task, held_out_tasks

WITHOUT_NETWORK = " without its MLP"

class LinearDecayAdam(torch.optim.Adam):
    """Adam whose rate falls linearly to zero over the training: the schedule a learned optimizer finds first,
    so the table says whether one does more than that.  (``torch.optim.lr_scheduler`` needs a second call per
    step, which ``meta.lopt.evaluation.train_curve`` does not make.)"""

    def __init__(self, params, lr: float, total_steps: int) -> None:
        super().__init__(params, lr=lr)
        self.base_lr, self.total_steps, self.steps_taken = lr, total_steps, 0

    def step(self, closure=None):
        for group in self.param_groups:
            group["lr"] = self.base_lr * (1 - self.steps_taken / self.total_steps)
        self.steps_taken += 1
        return super().step(closure)


BASELINES = {"SGD+momentum": lambda params, lr, _: torch.optim.SGD(params, lr=lr, momentum=0.9),
             "AdamW": lambda params, lr, _: torch.optim.AdamW(params, lr=lr, weight_decay=0.01),
             "Adam+linear decay": lambda params, lr, steps: LinearDecayAdam(params, lr, steps)}


def load_runs(paths: list[str], without_network: bool = False) -> dict[str, list]:
    """{label: [meta-model per seed]} from run directories or checkpoints; a label is the algorithm's name and the
    meta-training settings in which its runs differ from the defaults (``lopt-nominal late_weight=2.0``), so that
    runs of one algorithm under different settings are columns of their own.  ``without_network``: also a copy of
    each nominal run with its MLP's step switched off, labelled ``... without its MLP``."""
    from launch.experiment import restore

    models: dict[str, list] = {}
    for path in paths:
        learner, name, *_ = restore(path, device="cpu")
        if not name.startswith("lopt-"):
            raise SystemExit(f"{path} is a {name} run, not a learned optimizer's (lopt-mlp, lopt-nominal, lopt-velo)")
        config, default = learner.config, type(learner.config)()
        changed = [f"{field.name}={getattr(config, field.name)}" for field in dataclasses.fields(config)
                   if getattr(config, field.name) != getattr(default, field.name)]
        label = " ".join([name, *changed])
        models.setdefault(label, []).append(learner.model.eval())
        if without_network and learner.config.architecture == "nominal":
            schedule_only = copy.deepcopy(learner.model)
            schedule_only.zero_output_layer()
            models.setdefault(label + WITHOUT_NETWORK, []).append(schedule_only)
    return models


def best_baseline(task, make, steps: int):
    """The curve of ``make`` at its best rate of ``ADAM_LRS`` (lowest final loss)."""
    curves = [train_curve(task, lambda params, total, lr=lr: make(params, lr, total), steps) for lr in ADAM_LRS]
    return min(curves, key=lambda curve: curve.final)


def score_task(task, models: dict[str, list], steps: int) -> dict:
    envelope, adam_curves = adam_envelope(task, ADAM_HORIZON_MULT * steps)
    every = next(iter(adam_curves.values())).every  # steps between the points of every curve (train_curve's)
    at = steps // every  # the envelope's point at the learned optimizers' last step
    best_lr = min(adam_curves, key=lambda lr: adam_curves[lr].losses[at])
    row = {"task": task.name, "adam_loss": float(envelope[at]), "adam_best_lr": best_lr, "every": every,
           "curves": {"Adam (best rate)": adam_curves[best_lr].losses[: at + 1].tolist()}, "speedups": {}}
    for name, make in BASELINES.items():
        curve = best_baseline(task, make, steps)
        result = speedup(curve.final, envelope, curve.every, steps)
        row["speedups"][name] = [[result.value, result.reached]]
        row["curves"][name] = curve.losses.tolist()
    for name, seeds in models.items():
        row["speedups"][name] = []
        for index, model in enumerate(seeds):
            curve = train_curve(task, lambda params, total, model=model: LearnedOptimizer(params, model, total), steps)
            result = speedup(curve.final, envelope, curve.every, steps)
            row["speedups"][name].append([result.value, result.reached])
            if index == 0:
                row["curves"][f"{name} (seed 1)"] = curve.losses.tolist()
    return row


def cell(results: list) -> str:
    values = [value for value, _ in results]
    bound = "" if all(reached for _, reached in results) else ">"
    text = f"{bound}{statistics.median(values):.2f}"
    return text + (f" ({min(values):.2f}-{max(values):.2f})" if len(values) > 1 else "")


def step_cost(models: dict[str, list], repeats: int = 20) -> dict[str, float]:
    """Seconds per ``optimizer.step()`` on a 784-1024-256-10 MLP (1.07M parameters), Adam first."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 256), torch.nn.ReLU(),
                              torch.nn.Linear(256, 10))
    inputs, targets = torch.randn(128, 784), torch.randint(10, (128,))
    torch.nn.functional.cross_entropy(net(inputs), targets).backward()
    makers = {"Adam": lambda: torch.optim.Adam(net.parameters(), lr=1e-4)}
    makers.update({name: (lambda seeds=seeds: LearnedOptimizer(net.parameters(), seeds[0], 1000)) for name, seeds in models.items()})
    seconds = {}
    for name, make in makers.items():
        optimizer = make()
        optimizer.step()  # the first step builds the state
        started = time.perf_counter()
        for _ in range(repeats):
            optimizer.step()
        seconds[name] = (time.perf_counter() - started) / repeats
    return seconds


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = 4
    figure, axes = plt.subplots((len(rows) + columns - 1) // columns, columns, figsize=(16, 3.2 * ((len(rows) + 3) // 4)))
    for axis, row in zip(axes.flat, rows):
        for name, losses in row["curves"].items():
            axis.plot(np.arange(len(losses)) * row["every"], losses, label=name)
        axis.set_yscale("log")
        axis.set_title(row["task"], fontsize=8)
    for axis in list(axes.flat)[len(rows):]:
        axis.axis("off")
    axes.flat[0].legend(fontsize=7)
    figure.supxlabel("step")
    figure.supylabel("training loss (full set)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="run directories (or checkpoints) of lopt-mlp / lopt-nominal / lopt-velo, one per seed")
    parser.add_argument("--steps", type=int, default=200, help="training steps of each task (the meta-training eval's)")
    parser.add_argument("--held-out", type=int, default=8, help="held-out tasks of the family")
    parser.add_argument("--without-network", action="store_true",
                        help="also score each lopt-nominal run with its MLP's step switched off (its Adam term and schedule alone)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    models = load_runs(args.runs, args.without_network)
    tasks = [("held-out", Task(config)) for config in held_out_tasks(args.held_out)] + \
            [("out-of-distribution", ood_task(kind)) for kind in OOD_TASKS]
    rows = []
    names = [*BASELINES, *models]
    print(f"speedup over tuned Adam at {args.steps} steps (Adam: {len(ADAM_LRS)} rates, {ADAM_HORIZON_MULT}x as long)")
    widths = {name: max(18, len(name)) for name in names}
    print(f"{'set':20} {'task':45} {'Adam loss':>9} " + " ".join(f"{name:>{widths[name]}}" for name in names))
    for group, task in tasks:
        row = {"set": group, **score_task(task, models, args.steps)}
        rows.append(row)
        print(f"{group:20} {row['task'][:45]:45} {row['adam_loss']:9.4f} " +
              " ".join(f"{cell(row['speedups'][name]):>{widths[name]}}" for name in names), flush=True)
    summary = {}
    for name in names:
        per_seed = [statistics.median(row["speedups"][name][seed][0] for row in rows if row["set"] == "held-out")
                    for seed in range(len(rows[0]["speedups"][name]))]
        summary[name] = {"median_speedup_per_seed": per_seed, "median_over_seeds": statistics.median(per_seed)}
        print(f"{name}: median speedup over the held-out tasks per seed "
              f"{', '.join(f'{v:.2f}' for v in per_seed)}; median over seeds {statistics.median(per_seed):.2f}")
    costs = step_cost({name: seeds for name, seeds in models.items() if not name.endswith(WITHOUT_NETWORK)})
    print("seconds per optimizer.step() on a 1.07M-parameter MLP: " +
          ", ".join(f"{name} {value * 1000:.1f} ms ({value / costs['Adam']:.1f}x Adam)" for name, value in costs.items()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"runs": args.runs, "steps": args.steps, "rows": rows, "summary": summary,
                                         "step_seconds": costs, "seconds": time.perf_counter() - started}, indent=1) + "\n")
    if args.plot:
        plot(rows, args.plot)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
