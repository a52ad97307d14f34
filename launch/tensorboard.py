"""What the loop writes to tensorboard, cleanrl's way: ``charts/`` and
``losses/`` from step metrics, ``eval/<task>/<metric>`` from reports, and an
hparams table of both configs."""

from __future__ import annotations

import dataclasses

from torch.utils.tensorboard import SummaryWriter

from envs.report import EvalReport
from launch.config import RunConfig

METRIC_PREFIXES = ("charts/", "losses/")


def log_metrics(writer: SummaryWriter, metrics: dict, progress: int, units_per_second: float) -> None:
    for key, value in metrics.items():
        if not key.startswith(METRIC_PREFIXES):
            raise ValueError(f"step() metric {key!r} must be prefixed with one of {METRIC_PREFIXES}")
        writer.add_scalar(key, float(value), progress)
    writer.add_scalar("charts/units_per_second", units_per_second, progress)


def log_report(writer: SummaryWriter, report: EvalReport, progress: int) -> None:
    for task, row in report.rows.items():
        for metric, value in row.items():
            writer.add_scalar(f"eval/{task}/{metric}", value, progress)
    for metric, value in report.summary().items():
        writer.add_scalar(f"eval/mean/{metric}", value, progress)


def hparams(algorithm_name: str, algorithm_config: dict, run: RunConfig) -> dict:
    """Both configs flattened to tensorboard's accepted value types."""
    values = {"algorithm": algorithm_name, **{f"algorithm.{k}": v for k, v in algorithm_config.items()},
              **{f"run.{k}": v for k, v in dataclasses.asdict(run).items()}}
    return {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in values.items()}


def log_hparams_table(writer: SummaryWriter, algorithm_name: str, algorithm_config: dict, run: RunConfig) -> None:
    rows = "\n".join(f"|{k}|{v}|" for k, v in hparams(algorithm_name, algorithm_config, run).items())
    writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{rows}")


def log_final(writer: SummaryWriter, algorithm_name: str, algorithm_config: dict, run: RunConfig, report: EvalReport) -> None:
    """The hparams plugin's row of this run: its configs beside its final mean metrics."""
    metrics = {f"final/{k}": v for k, v in report.summary().items()}
    writer.add_hparams(hparams(algorithm_name, algorithm_config, run), metrics, run_name=".")
