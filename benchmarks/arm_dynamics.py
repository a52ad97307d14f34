"""ARM-CML on our own dynamics variation: prediction error on held-out dynamics groups.

The extension of ARM's table to this project's environments
(``meta.adaptation.dynamics``): on sweep, groups are (friction, mass) scales
of the cube; a non-adaptive MLP (``erm``), ARM-CML with a context of the
group's transitions, and an oracle given the true scales are trained on the
same 3 x 3 grid of groups and tested on groups between and beyond it.  Data
is collected once (seed 0, scripted expert with action noise); every model
trains over ``--seeds``.  Prints mean ± std over seeds of the query MSE in cm^2.

    python benchmarks/arm_dynamics.py
    python benchmarks/arm_dynamics.py --updates 1000 --seeds 0
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from meta.adaptation.dynamics import MODELS, DynamicsShiftConfig, collect_groups, train_dynamics_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--updates", type=int, default=DynamicsShiftConfig.updates)
    parser.add_argument("--episodes", type=int, default=DynamicsShiftConfig.episodes)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = dataclasses.replace(DynamicsShiftConfig(), updates=args.updates, episodes=args.episodes)
    start = time.perf_counter()
    train = collect_groups(config, config.train_scales, seed=0)
    held_out = {"between": collect_groups(config, config.between_scales, seed=1),
                "beyond": collect_groups(config, config.beyond_scales, seed=2)}
    collected = time.perf_counter() - start
    rows = {}
    for model in MODELS:
        tic = time.perf_counter()
        runs = [train_dynamics_model(model, train, held_out, config, seed) for seed in args.seeds]
        rows[model] = ({key: [run[key] for run in runs] for key in runs[0]}, time.perf_counter() - tic)
    columns = list(rows[MODELS[0]][0])
    print(f"{config.task}: MSE (cm^2) of the object displacement {config.horizon} steps ahead, mean ± std over seeds {args.seeds}; "
          f"{config.updates} updates; train groups (friction, mass) {config.train_scales}; "
          f"between {config.between_scales}; beyond {config.beyond_scales}")
    print(f"{'model':<9}" + "".join(f"{c:>26}" for c in columns) + f"{'seconds':>9}")
    for model, (values, seconds) in rows.items():
        cells = []
        for column in columns:
            mean = statistics.mean(values[column])
            std = statistics.stdev(values[column]) if len(values[column]) > 1 else 0.0
            cells.append(f"{mean:.4f} ± {std:.4f}")
        print(f"{model:<9}" + "".join(f"{c:>26}" for c in cells) + f"{seconds:9.0f}")
    print(f"data: {sum(len(x) for x in train.inputs)} training transitions in {len(train.inputs)} groups, "
          f"collected with the held-out groups in {collected:.0f} s")


if __name__ == "__main__":
    main()
