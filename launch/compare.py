"""``python -m launch compare RUN_DIR ...``: methods over seeds, as the field's statistics ask.

Agarwal, Schwarzer, Castro, Courville & Bellemare, "Deep Reinforcement
Learning at the Edge of the Statistical Precipice" (NeurIPS 2021): with few
seeds, report the interquartile mean (IQM) over all runs x tasks, with
stratified bootstrap 95% intervals, beside mean, median (of the per-task
means) and optimality gap (the mean shortfall below a score of 1), and the
probability that one method improves on another.  All of it is
``rliable`` (the paper's library; an optional extra, ``polytask[compare]``).

A run is any directory with ``report.json`` and ``config.yaml`` (what
``launch train`` writes); directories are searched recursively.  Runs are
grouped into methods by their label (preset or algorithm) and, within a label,
by the config fields whose values differ between its runs (e.g. a sweep's
``algorithm.surgery``); ``--by`` names the fields instead.  The scores are
one metric of every task row of the final report; learning curves come from
``curves.csv``.  Writes ``compare.json``, ``compare.csv`` and, with matplotlib,
``curves.png`` to ``--out`` (default: ``compare/`` beside the runs).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import warnings
from pathlib import Path

import numpy as np
import tyro

from envs.registry import unknown_name_error
from launch.errors import UsageError
from launch.run_files import CONFIG_FILE, CURVES_FILE, read_config

REPORT_FILE = "report.json"
#: the metrics a report is scored on when --metric is not given, in order of preference
DEFAULT_METRICS = ("success_rate", "accuracy")
AGGREGATES = ("IQM", "mean", "median", "optimality gap")
#: the most methods compared pairwise without --baseline (each pair is its own bootstrap)
MAX_PAIRED_METHODS = 5
#: config fields that never tell methods apart
IGNORED_FIELDS = {"run_config.seed", "run_config.name", "run_config.runs_dir", "run_config.resume", "run_config.progress_bar"}


@dataclasses.dataclass(frozen=True)
class CompareArgs:
    """Compare methods over seeds: IQM, mean, median, optimality gap with stratified bootstrap intervals."""

    runs: tyro.conf.Positional[tuple[Path, ...]]
    """Run directories, or directories holding runs (searched recursively)."""
    metric: str | None = None
    """Report column to score (default: success_rate, else accuracy)."""
    by: tuple[str, ...] = ()
    """Config fields that name a method besides its label, e.g. algorithm_config.surgery (default: those that differ)."""
    reps: int = 2000
    """Bootstrap resamples."""
    seed: int = 0
    """Seed of the bootstrap."""
    out: Path | None = None
    """Directory for compare.json, compare.csv and curves.png (default: compare/ beside the runs)."""
    baseline: str | None = None
    """Compare every method with this one only (default: every pair, when there are at most 5 methods)."""


@dataclasses.dataclass
class Run:
    path: Path
    label: str
    fields: dict[str, object]
    rows: dict[str, dict[str, float]]

    def curve(self, metric: str, tasks: list[str]) -> dict[int, np.ndarray]:
        """progress -> the metric of ``tasks`` at that evaluation (evaluations missing a task are skipped)."""
        path = self.path / CURVES_FILE
        if not path.exists():
            return {}
        table: dict[int, dict[str, float]] = {}
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get(metric) not in (None, ""):
                    table.setdefault(int(row["progress"]), {})[row["task"]] = float(row[metric])
        return {p: np.array([scores[t] for t in tasks]) for p, scores in sorted(table.items()) if all(t in scores for t in tasks)}


def _flatten(record: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for key, value in (record or {}).items():
        name = f"{prefix}{key}"
        out.update(_flatten(value, f"{name}.") if isinstance(value, dict) else {name: json.dumps(value)})
    return out


def find_runs(paths) -> list[Run]:
    found = []
    for path in map(Path, paths):
        if not path.exists():
            raise UsageError(f"compare: no such directory {path}")
        candidates = [path] if (path / REPORT_FILE).exists() else sorted(p.parent for p in path.rglob(REPORT_FILE))
        for run_dir in candidates:
            if not (run_dir / CONFIG_FILE).exists():
                continue  # an `eval --out` table, not a run
            record = read_config(run_dir)
            fields = {k: v for k, v in _flatten({key: record.get(key) for key in ("algorithm_config", "env_config", "run_config")}).items()
                      if k not in IGNORED_FIELDS}
            report = json.loads((run_dir / REPORT_FILE).read_text())
            found.append(Run(run_dir, str(record.get("label") or record["algorithm"]), fields, report["rows"]))
    if not found:
        raise UsageError(f"compare: no runs (directories with {REPORT_FILE} and {CONFIG_FILE}) under {', '.join(map(str, paths))}")
    return found


def group_methods(runs: list[Run], by: tuple[str, ...]) -> dict[str, list[Run]]:
    labels: dict[str, list[Run]] = {}
    for run in runs:
        labels.setdefault(run.label, []).append(run)
    methods: dict[str, list[Run]] = {}
    for label, members in labels.items():
        known = set().union(*(run.fields for run in members))
        unknown = [f for f in by if f not in known]
        if unknown:
            raise UsageError(f"compare --by: {label} runs have no field {', '.join(unknown)}; fields: {', '.join(sorted(known))}")
        # a field only some runs have, at one value among them, is one a later version added (its
        # default): it does not split runs written before it existed from those written after
        keys = list(by) or sorted(k for k in known if len({run.fields[k] for run in members if k in run.fields}) > 1)
        for run in members:
            name = label + "".join(f" {key.split('.', 1)[-1]}={json.loads(run.fields[key])}" for key in keys if key in run.fields)
            methods.setdefault(name, []).append(run)
    return methods


def pick_metric(runs: list[Run], wanted: str | None) -> str:
    reported = sorted({m for run in runs for row in run.rows.values() for m in row})
    if wanted is not None:
        if wanted not in reported:
            raise UsageError(f"compare --metric: no run reports {wanted!r}; reported: {', '.join(reported)}")
        return wanted
    for metric in DEFAULT_METRICS:
        if metric in reported:
            return metric
    raise UsageError(f"compare: name the metric with --metric; reported: {', '.join(reported)}")


def score_matrices(methods: dict[str, list[Run]], metric: str) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
    """Per method, the tasks all its runs report ``metric`` for, and its (runs, tasks) score matrix.

    Methods may differ in their tasks (an MT10 run beside a reach run): each is then scored on its
    own, and only methods with the same tasks are compared pairwise."""
    tasks, scores = {}, {}
    for method, runs in methods.items():
        own = [t for t, row in runs[0].rows.items() if metric in row and all(metric in r.rows.get(t, {}) for r in runs)]
        if own:
            tasks[method] = own
            scores[method] = np.array([[run.rows[t][metric] for t in own] for run in runs])
    if not tasks:
        raise UsageError(f"compare: no method's runs share a task reporting {metric!r}")
    return tasks, scores


def _rliable():
    try:
        from rliable import library, metrics
    except ImportError as error:
        raise UsageError(f"compare needs rliable (the statistics of Agarwal et al. 2021): pip install 'polytask[compare]' ({error})") from None
    return library, metrics


def _bootstrap(library, scores: dict, aggregate, reps: int, seed: int):
    """``rliable.library.get_interval_estimates`` with a seeded bootstrap."""
    with warnings.catch_warnings():
        # rliable hands arch a RandomState, which arch 7 deprecates; the resampling is the same
        warnings.simplefilter("ignore", FutureWarning)
        return library.get_interval_estimates(scores, aggregate, reps=reps, random_state=np.random.RandomState(seed))


def aggregates(scores: dict[str, np.ndarray], reps: int, seed: int) -> dict[str, dict[str, list[float]]]:
    """method -> aggregate -> [estimate, low, high] (stratified bootstrap over runs, per task)."""
    library, metrics = _rliable()

    def all_four(matrix):
        return np.array([metrics.aggregate_iqm(matrix), metrics.aggregate_mean(matrix), metrics.aggregate_median(matrix),
                         metrics.aggregate_optimality_gap(matrix)])

    estimates, intervals = _bootstrap(library, scores, all_four, reps, seed)
    return {m: {name: [float(estimates[m][i]), float(intervals[m][0, i]), float(intervals[m][1, i])]
                for i, name in enumerate(AGGREGATES)} for m in scores}


def improvement(scores: dict[str, np.ndarray], tasks: dict[str, list[str]], reps: int, seed: int,
                baseline: str | None = None) -> dict[str, list[float]]:
    """"X > Y" -> [P(X > Y), low, high] for each pair of methods scored on the same tasks (with ``baseline``:
    each method against it), once per pair: P(Y > X) is 1 - P(X > Y)."""
    names = list(scores)
    if baseline is not None:
        candidates = [(m, baseline) for m in names if m != baseline]
    elif len(names) <= MAX_PAIRED_METHODS:
        candidates = [(x, y) for i, x in enumerate(names) for y in names[i + 1 :]]
    else:
        candidates = []
    pairs = {f"{x} > {y}": (scores[x], scores[y]) for x, y in candidates if tasks[x] == tasks[y]}
    if not pairs:
        return {}
    library, metrics = _rliable()
    estimates, intervals = _bootstrap(library, pairs, metrics.probability_of_improvement, reps, seed)
    return {pair: [float(estimates[pair]), float(intervals[pair][0].item()), float(intervals[pair][1].item())] for pair in pairs}


def curves(methods: dict[str, list[Run]], metric: str, tasks: dict[str, list[str]], reps: int, seed: int) -> dict[str, list[list[float]]]:
    """method -> [progress, IQM, low, high] at every evaluation all its runs reached."""
    library, metrics = _rliable()
    out = {}
    for method in tasks:
        per_run = [run.curve(metric, tasks[method]) for run in methods[method]]
        shared = sorted(set.intersection(*(set(c) for c in per_run))) if per_run else []
        points = []
        for progress in shared:
            matrix = {"m": np.stack([c[progress] for c in per_run])}
            estimate, interval = _bootstrap(library, matrix, lambda s: np.array([metrics.aggregate_iqm(s)]),
                                            max(200, reps // 10), seed)
            points.append([progress, float(estimate["m"][0]), float(interval["m"][0, 0]), float(interval["m"][1, 0])])
        out[method] = points
    return out


def _interval(value: list[float]) -> str:
    return f"{value[0]:.3f} [{value[1]:.3f}, {value[2]:.3f}]"


def format_comparison(result: dict) -> str:
    methods = result["methods"]
    width = max(len(m) for m in methods) + 2
    scope = (f"over {len(result['tasks'])} task(s)" if result["tasks"] is not None else
             "over each method's own tasks (pairs compared only where the tasks are the same)")
    lines = [f"{result['metric']} {scope}; 95% stratified bootstrap intervals ({result['reps']} resamples)",
             f"{'method':<{width}}{'runs':>5}{'tasks':>6}  " + "".join(f"{name:<26}" for name in AGGREGATES)]
    for method, info in methods.items():
        lines.append(f"{method:<{width}}{info['runs']:>5}{len(info['tasks']):>6}  "
                     + "".join(f"{_interval(info[name]):<26}" for name in AGGREGATES))
    if result["probability_of_improvement"]:
        lines.append("probability of improvement P(X > Y), over tasks of P(a run of X scores above a run of Y); "
                     "P(Y > X) = 1 - P(X > Y):")
        lines.extend(f"  {pair}: {_interval(value)}" for pair, value in result["probability_of_improvement"].items())
    elif len(methods) > MAX_PAIRED_METHODS:
        lines.append(f"{len(methods)} methods: name one with --baseline for the probability of improvement against it")
    return "\n".join(lines)


def _write_outputs(result: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "compare.json", out / "compare.csv"]
    written[0].write_text(json.dumps(result, indent=1))
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["method", "runs", *[f"{name} {part}" for name in AGGREGATES for part in ("estimate", "low", "high")]])
    for method, info in result["methods"].items():
        writer.writerow([method, info["runs"], *[v for name in AGGREGATES for v in info[name]]])
    written[1].write_text(table.getvalue())
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return written
    figure, axes = plt.subplots(figsize=(6, 4))
    for method, points in result["curves"].items():
        if points:
            progress, iqm, low, high = np.array(points).T
            axes.plot(progress, iqm, label=method)
            axes.fill_between(progress, low, high, alpha=0.25)
    axes.set_xlabel("progress")
    axes.set_ylabel(f"IQM of {result['metric']}")
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(out / "curves.png", dpi=120)
    plt.close(figure)
    return [*written, out / "curves.png"]


def compare(args: CompareArgs) -> tuple[dict, list[Path]]:
    if args.reps < 10:
        raise UsageError(f"compare --reps must be at least 10 bootstrap resamples, got {args.reps}")
    runs = find_runs(args.runs)
    methods = group_methods(runs, args.by)
    metric = pick_metric(runs, args.metric)
    tasks, scores = score_matrices(methods, metric)
    if args.baseline is not None and args.baseline not in scores:
        raise UsageError(str(unknown_name_error("--baseline method", args.baseline, scores, plural="methods")))
    summary = aggregates(scores, args.reps, args.seed)
    shared = next(iter(tasks.values()))
    result = {
        # the task list when every method has the same one, else None (see each method's "tasks")
        "metric": metric, "tasks": shared if all(t == shared for t in tasks.values()) else None, "reps": args.reps,
        "methods": {m: {"runs": len(methods[m]), "paths": [str(r.path) for r in methods[m]], "tasks": tasks[m], **summary[m],
                        "per_task_mean": dict(zip(tasks[m], scores[m].mean(axis=0).tolist()))} for m in tasks},
        "probability_of_improvement": improvement(scores, tasks, args.reps, args.seed, args.baseline),
        "curves": curves(methods, metric, tasks, args.reps, args.seed),
    }
    return result, _write_outputs(result, args.out or _common_parent([r.path for r in runs]) / "compare")


def _common_parent(paths: list[Path]) -> Path:
    parts = [p.resolve().parent.parts for p in paths]
    shared = []
    for level in zip(*parts):
        if len(set(level)) > 1:
            break
        shared.append(level[0])
    return Path(*shared)
