"""Benchmarks as data: which tasks train, which are held out, which variations.

Task lists follow Meta-World (Yu et al., CoRL 2019, Sec. 4 and Appendix):
MT10 trains and tests on the same ten tasks; ML10 meta-trains on ten tasks
and meta-tests on five held-out ones. Each task has 50 train and 50 held-out
test variations (``envs.variations``: seeded, derived from the task's name,
so MT1("reach"), MT10 and ML10 agree on reach's variations); a reset with
``options={"variation": i}`` runs the ``i``-th of a split's.
"""

from __future__ import annotations

import dataclasses

from envs.registry import TASKS, get_task, unknown_name_error
from envs.variations import SPLITS, VARIATIONS_PER_TASK, check_split, variation_seeds  # noqa: F401  (re-exported)

MT10_TASKS = (
    "reach",
    "push",
    "pick-place",
    "door-open",
    "drawer-open",
    "drawer-close",
    "button-press-topdown",
    "peg-insert-side",
    "window-open",
    "window-close",
)
ML10_TRAIN_TASKS = (
    "reach",
    "push",
    "pick-place",
    "door-open",
    "drawer-close",
    "button-press-topdown",
    "peg-insert-side",
    "window-open",
    "sweep",
    "basketball",
)
ML10_TEST_TASKS = ("drawer-open", "door-close", "shelf-place", "sweep-into", "lever-pull")

@dataclasses.dataclass(frozen=True)
class Benchmark:
    """A named set of train tasks and test tasks with their variations."""

    name: str
    train_tasks: tuple[str, ...]
    test_tasks: tuple[str, ...]
    variations_per_task: int = VARIATIONS_PER_TASK

    def __post_init__(self):
        for task in (*self.train_tasks, *self.test_tasks):
            get_task(task)  # raises with near matches

    def tasks(self, split: str = "train") -> tuple[str, ...]:
        check_split(split)
        return self.train_tasks if split == "train" else self.test_tasks

    def variations(self, task: str, split: str = "train") -> tuple[int, ...]:
        """Seeded variations of ``task`` in ``split``: its train or held-out test set."""
        if task not in self.tasks(split) and task not in self.tasks("train"):
            raise unknown_name_error(f"task of {self.name}", task, self.tasks(split), plural=f"tasks of {self.name}/{split}")
        return variation_seeds(task, split, self.variations_per_task)

    @property
    def all_tasks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.train_tasks + self.test_tasks))


def MT1(task: str) -> Benchmark:
    """One task; train on its train variations, test on held-out ones."""
    get_task(task)
    return Benchmark(f"MT1-{task}", (task,), (task,))


def ML1(task: str) -> Benchmark:
    """Meta-learning within one task: held-out variations of the same task."""
    get_task(task)
    return Benchmark(f"ML1-{task}", (task,), (task,))


def MT10() -> Benchmark:
    return Benchmark("MT10", MT10_TASKS, MT10_TASKS)


def ML10() -> Benchmark:
    return Benchmark("ML10", ML10_TRAIN_TASKS, ML10_TEST_TASKS)


def MTALL() -> Benchmark:
    """Every registered task, multi-task (the suite's MT50 analogue)."""
    tasks = tuple(TASKS)
    return Benchmark("MTALL", tasks, tasks)


BENCHMARKS = {"MT1": MT1, "ML1": ML1, "MT10": MT10, "ML10": ML10, "MTALL": MTALL}


def get_benchmark(name: str, task: str | None = None) -> Benchmark:
    """A benchmark by name; MT1 and ML1 need ``task``. Also accepts "MT1-reach"."""
    if task is None and "-" in name and name.split("-", 1)[0] in ("MT1", "ML1"):
        name, task = name.split("-", 1)
    if name not in BENCHMARKS:
        raise unknown_name_error("benchmark", name, BENCHMARKS)
    if name in ("MT1", "ML1"):
        if task is None:
            raise ValueError(f"{name} needs a task, e.g. {name}-reach; tasks: {', '.join(TASKS)}")
        return BENCHMARKS[name](task)
    if task is not None:
        raise ValueError(f"{name} takes no task (got {task!r}); only MT1 and ML1 do")
    return BENCHMARKS[name]()
