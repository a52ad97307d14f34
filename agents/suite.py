"""What a multi-task learner sets up first from its suite: the train tasks,
and an evaluator over those same tasks."""

from __future__ import annotations

from envs.suite import Evaluator, Suite


def multitask_tasks_and_evaluator(suite: Suite, learner: str) -> tuple[tuple[str, ...], Evaluator]:
    """The suite's train tasks and its evaluator, whose split must hold the same tasks
    (``learner`` names who needs that in the error)."""
    tasks, split = suite.tasks("train"), suite.config.eval_split
    if suite.tasks(split) != tasks:
        raise ValueError(f"{learner} evaluates the tasks it trains on, but {suite.config.benchmark}'s {split} tasks differ "
                         "from its train tasks; use an MT benchmark or env.eval_split=train")
    return tasks, suite.evaluator()
