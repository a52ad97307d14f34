"""What a learner on one of the suites' benchmarks sets up first: its train
tasks, and an evaluator over those same tasks."""

from __future__ import annotations

from envs.metaworld_suite import Evaluator, Suite, make_evaluator, suite_tasks


def train_tasks_and_evaluator(suite: Suite, benchmark: str, task: str | None, eval_split: str, eval_max_steps: int,
                              *, seed: int, learner: str) -> tuple[tuple[str, ...], Evaluator]:
    """The benchmark's train tasks and an evaluator of ``eval_split``, which must hold the same tasks
    (``learner`` names who needs that in the error)."""
    tasks = suite_tasks(suite, benchmark, "train", task)
    if suite_tasks(suite, benchmark, eval_split, task) != tasks:
        raise ValueError(f"{learner} evaluates the tasks it trains on, but {benchmark}'s {eval_split} tasks differ from its train tasks")
    max_steps = None if suite == "metaworld" else eval_max_steps  # Meta-World's protocol runs its own 500 steps
    return tasks, make_evaluator(suite, benchmark, eval_split, task, seed=seed, max_steps=max_steps)
