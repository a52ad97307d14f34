"""The contract between the training loop and every learner.

A learner is a class built as ``Learner(config, device=..., seed=...)`` from
its frozen config dataclass, exposing the ``Algorithm`` protocol below; a
learner that trains on environments names its ``default_env`` (an
``envs.suite.EnvConfig``) and is built as ``Learner(config, env=...,
device=..., seed=...)``. The loop (``launch/loop.py``) owns budget,
evaluation schedule, logging, checkpoints, resume, seeding, device choice and
SIGINT/SIGTERM; a learner owns none of these. Learners live in ``agents/``
and ``meta/`` and never import ``launch``: the protocol is structural, and
``EvalReport`` lives in ``envs.report``.

Optional, used when present:

- ``step(limit)``: a ``step`` that takes ``limit`` is told how many units
  remain before the loop's next evaluation, checkpoint or the end of the
  budget, and should do no more than that where its unit of work allows;
- ``default_budget`` and ``default_eval_every`` (in ``unit``): what the loop
  uses when the run config leaves them unset;
- ``warmup_units`` and ``warmup_option``: units before the first update, and
  the config field that sets them; the loop refuses a budget within them;
- ``close()``: releases the learner's envs once a run is over;
- ``policy()`` -> batch policy ``(obs [B, 39], task_ids [B]) -> actions [B, 4]``
  with task ids indexing ``tasks``, the learner's train tasks: what ``python
  -m launch render --checkpoint`` and ``--run.eval-video`` drive.

The loop calls ``evaluate()`` with the global python/numpy/torch generators
saved and restored around it, so how often a run evaluates does not change
what it learns; a learner's own generators are its own business.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from envs.report import EvalReport

__all__ = ["Algorithm", "EvalReport"]


@runtime_checkable
class Algorithm(Protocol):
    #: the unit the loop's budget counts: "env_steps", "updates" or "meta_iterations"
    unit: str

    def progress(self) -> int:
        """How many ``unit`` have been done so far (restored by ``load_state_dict``)."""

    def step(self) -> dict[str, float]:
        """One unit of work (collect and/or update); metrics keyed ``charts/...`` or ``losses/...``
        (a ``step(self, limit)`` is given the units left before the loop's next event)."""

    def evaluate(self) -> EvalReport:
        """Per-task metrics (rows: tasks; columns: e.g. success_rate, mse)."""

    def state_dict(self) -> dict:
        """Everything needed to continue exactly: networks, optimizers, buffers, RNG streams."""

    def load_state_dict(self, state: dict) -> None: ...
