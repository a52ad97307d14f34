"""``EvalReport``: per-task metrics as a table (rows are tasks, columns metrics).

Every learner's ``evaluate()`` returns one; the training loop prints it, logs
it to tensorboard as ``eval/<task>/<metric>`` and writes it as CSV and JSON.
It lives in ``envs`` (plain Python and numpy) so that every layer can build
one without importing ``launch``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class EvalReport:
    """rows: task -> {metric: value}; ``title`` says what was evaluated."""

    rows: dict[str, dict[str, float]] = field(default_factory=dict)
    title: str = "evaluation"

    def add(self, task: str, **metrics: float) -> None:
        self.rows.setdefault(task, {}).update({k: float(v) for k, v in metrics.items()})

    @property
    def metrics(self) -> list[str]:
        names: list[str] = []
        for row in self.rows.values():
            names.extend(m for m in row if m not in names)
        return names

    def mean(self, metric: str) -> float:
        values = [row[metric] for row in self.rows.values() if metric in row]
        if not values:
            raise KeyError(f"no task reports {metric!r}; metrics: {self.metrics}")
        return sum(values) / len(values)

    def summary(self) -> dict[str, float]:
        """The mean of every metric over tasks."""
        return {metric: self.mean(metric) for metric in self.metrics}

    def to_dict(self) -> dict:
        return {"title": self.title, "rows": self.rows, "mean": self.summary() if self.rows else {}}

    @classmethod
    def from_dict(cls, data: dict) -> "EvalReport":
        return cls(rows={t: dict(r) for t, r in data["rows"].items()}, title=data.get("title", "evaluation"))

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["task", *self.metrics])
        for task, row in self.rows.items():
            writer.writerow([task, *(row.get(m, "") for m in self.metrics)])
        return out.getvalue()

    def format(self, precision: int = 3) -> str:
        """A plain-text table with a final 'mean' row."""
        metrics = self.metrics
        header = ["task", *metrics]
        lines = [[task, *(_fmt(row.get(m), precision) for m in metrics)] for task, row in self.rows.items()]
        if len(self.rows) > 1:
            lines.append(["mean", *(_fmt(self.mean(m), precision) for m in metrics)])
        widths = [max(len(str(c)) for c in col) for col in zip(header, *lines)]
        render = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
        rule = "  ".join("-" * w for w in widths)
        return "\n".join([self.title, render(header), rule, *map(render, lines)])

    def save(self, stem: Path | str) -> tuple[Path, Path]:
        """Write ``<stem>.csv`` and ``<stem>.json`` atomically; return both paths."""
        stem = Path(stem)
        stem.parent.mkdir(parents=True, exist_ok=True)
        paths = stem.with_suffix(".csv"), stem.with_suffix(".json")
        for path, text in zip(paths, (self.to_csv(), json.dumps(self.to_dict(), indent=2))):
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(text)
            tmp.replace(path)
        return paths

    @classmethod
    def load(cls, path: Path | str) -> "EvalReport":
        return cls.from_dict(json.loads(Path(path).read_text()))


def _fmt(value, precision: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    return f"{value:.{precision}f}"
