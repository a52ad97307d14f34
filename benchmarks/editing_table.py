"""Model editing's table: edit success and drawdown of FT, FT+KL, ROME, MEND and SERAC, single and sequential.

After the metrics of MEND (Mitchell et al., ICLR 2022) and SERAC (Mitchell et
al., ICML 2022), on the knowledge base and base model of ``meta.editing``
(the default ``EditingConfig``; the base model is trained once and cached).
Per seed: MEND and SERAC are meta-trained for ``--mend-updates`` /
``--serac-updates`` on the edit-train split (``meta.editing.learner``), then
every editor is scored on ``--single`` held-out single edits (each on a fresh
base model) and on one sequence of ``--sequence`` held-out edits applied one
after another, read at ``--points``.  Prints mean and spread over seeds per
editor and setting, checks the acceptance targets, writes the rows to
``--json`` and draws edit success and drawdown against the number of
sequential edits to ``--plot``.

    python -m benchmarks.editing_table                                  # 3 seeds, every editor
    python -m benchmarks.editing_table --seeds 1 --editors ft rome --sequence 100 --points 10 100
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from meta.editing.base_model import base_model, knowledge_base
from meta.editing.baselines import BASELINES, build_baseline
from meta.editing.config import EditingConfig, MENDConfig, SERACConfig
from meta.editing.learner import EditorLearner
from meta.editing.metrics import OutOfScope, score_sequence, score_single_edits

EDITORS = (*BASELINES, "mend", "serac")
LABELS = {"ft": "FT", "ft-kl": "FT+KL", "rome": "ROME", "mend": "MEND", "serac": "SERAC"}
METRICS = ("edit_success", "edit_accuracy", "drawdown", "hard_accuracy", "hard_drawdown")
#: (edit success at least, drawdown at most) on single edits, from the issue's acceptance list
TARGETS = {"serac": (0.95, 0.01), "mend": (0.90, 0.05)}


def editor_for(name: str, seed: int, updates: dict[str, int], base, kb):
    """(editor, seconds of meta-training) for ``name`` at ``seed``."""
    if name in BASELINES:
        return build_baseline(name, base, kb, seed=seed), 0.0
    start = time.perf_counter()
    config = MENDConfig() if name == "mend" else SERACConfig()
    learner = EditorLearner(config, device="cpu", seed=seed)
    while learner.progress() < updates[name]:
        learner.step()
    return learner.editor.eval(), time.perf_counter() - start


def run_seed(name: str, seed: int, args, base, kb, out_of_scope) -> list[dict]:
    editor, train_s = editor_for(name, seed, {"mend": args.mend_updates, "serac": args.serac_updates}, base, kb)
    start = time.perf_counter()
    single = score_single_edits(editor, base, kb, kb.edit_cases("edit-test", args.single, seed=[seed, 1]), out_of_scope)
    sequence = score_sequence(editor, base, kb, kb.edit_cases("edit-test", args.sequence, seed=[seed, 2]), out_of_scope,
                              args.points)
    score_s = time.perf_counter() - start
    rows = [dict(editor=name, seed=seed, setting="single", edits=1, **single)]
    rows += [dict(editor=name, seed=seed, setting=f"{n} sequential", edits=n, **scores) for n, scores in sequence.items()]
    for row in rows:
        row.update(train_s=train_s, score_s=score_s)
    return rows


def summarise(rows: list[dict]) -> dict[tuple[str, str], dict]:
    cells: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        cells.setdefault((row["editor"], row["setting"]), []).append(row)
    summary = {}
    for key, runs in cells.items():
        summary[key] = {metric: (statistics.mean(r[metric] for r in runs),
                                 statistics.stdev(r[metric] for r in runs) if len(runs) > 1 else 0.0) for metric in METRICS}
        summary[key]["seeds"] = len(runs)
        summary[key]["edits"] = runs[0]["edits"]
    return summary


def format_table(summary) -> str:
    header = f"{'editor':<7} {'setting':<16}" + "".join(f" {m:>15}" for m in METRICS) + "  seeds"
    lines = [header, "-" * len(header)]
    for (editor, setting), cell in summary.items():
        values = "".join(f" {cell[m][0]:>8.3f} ± {cell[m][1]:.3f}" for m in METRICS)
        lines.append(f"{LABELS[editor]:<7} {setting:<16}{values}  {cell['seeds']}")
    return "\n".join(lines)


def check_targets(summary) -> list[str]:
    verdicts = []
    for editor, (success, drawdown) in TARGETS.items():
        cell = summary.get((editor, "single"))
        if cell is None:
            continue
        es, dd = cell["edit_success"][0], cell["drawdown"][0]
        ok = es >= success and dd <= drawdown
        verdicts.append(f"{LABELS[editor]} single edits: ES {es:.3f} (target >= {success}), DD {dd:.3f} (target <= {drawdown}): "
                        + ("met" if ok else f"NOT met (ES short by {max(success - es, 0):.3f}, DD over by {max(dd - drawdown, 0):.3f})"))
    return verdicts


def plot(summary, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for editor in EDITORS:
        cells = sorted((cell["edits"], cell) for (e, _), cell in summary.items() if e == editor)
        if not cells:
            continue
        edits = [n for n, _ in cells]
        for axis, metric in zip(axes, ("edit_success", "drawdown")):
            mean = [c[metric][0] for _, c in cells]
            spread = [c[metric][1] for _, c in cells]
            axis.errorbar(edits, mean, yerr=spread, marker="o", capsize=3, label=LABELS[editor])
    for axis, title in zip(axes, ("edit success (rephrasings)", "drawdown (never-edited facts)")):
        axis.set_xscale("log")
        axis.set_xlabel("edits applied (1 = single edit)")
        axis.set_title(title)
        axis.grid(alpha=0.3)
    axes[0].legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--editors", nargs="+", choices=EDITORS, default=list(EDITORS))
    parser.add_argument("--single", type=int, default=200, help="held-out single edits per seed")
    parser.add_argument("--sequence", type=int, default=1000, help="length of the sequence of held-out edits")
    parser.add_argument("--points", type=int, nargs="+", default=[10, 100, 1000], help="where the sequence is scored")
    parser.add_argument("--mend-updates", type=int, default=3000)
    parser.add_argument("--serac-updates", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=None, help="write every row here (after each editor and seed)")
    parser.add_argument("--plot", type=Path, default=None, help="draw ES and DD against sequential edits here")
    args = parser.parse_args(argv)
    if max(args.points) > args.sequence:
        parser.error(f"--points must not exceed --sequence ({args.sequence})")

    torch.set_num_threads(1)
    config = EditingConfig()
    start = time.perf_counter()
    base, kb = base_model(config), knowledge_base(config)
    out_of_scope = OutOfScope(kb, base)
    print(f"base model ready in {time.perf_counter() - start:.0f} s; out-of-scope accuracy {out_of_scope.base_accuracy:.3f}")
    rows: list[dict] = []
    for seed in args.seeds:
        for name in args.editors:
            rows += run_seed(name, seed, args, base, kb, out_of_scope)
            last = rows[-1]
            print(f"seed {seed} {LABELS[name]}: trained {last['train_s']:.0f} s, scored {last['score_s']:.0f} s", flush=True)
            if args.json is not None:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(rows, indent=1))
    summary = summarise(rows)
    print(format_table(summary))
    for verdict in check_targets(summary):
        print(verdict)
    if args.plot is not None:
        plot(summary, args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
