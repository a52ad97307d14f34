"""Benchmarks as data: which tasks train, which are held out, which variations.

Task lists follow Meta-World (Yu et al., CoRL 2019, Sec. 4 and Appendix):
MT10 and MT50 train and test on the same ten or fifty tasks; ML10 and ML45
meta-train on ten or 45 tasks and meta-test on five held-out ones. Each task has 50 train and 50 held-out
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
#: Meta-World v3's lists (``metaworld.env_dict``: MT50_V3, ML45_V3), in its order
MT50_TASKS = (
    "assembly", "basketball", "bin-picking", "box-close", "button-press-topdown",
    "button-press-topdown-wall", "button-press", "button-press-wall", "coffee-button",
    "coffee-pull", "coffee-push", "dial-turn", "disassemble", "door-close", "door-lock",
    "door-open", "door-unlock", "hand-insert", "drawer-close", "drawer-open", "faucet-open",
    "faucet-close", "hammer", "handle-press-side", "handle-press", "handle-pull-side",
    "handle-pull", "lever-pull", "pick-place-wall", "pick-out-of-hole", "pick-place", "plate-slide",
    "plate-slide-side", "plate-slide-back", "plate-slide-back-side", "peg-insert-side",
    "peg-unplug-side", "soccer", "stick-push", "stick-pull", "push", "push-wall", "push-back",
    "reach", "reach-wall", "shelf-place", "sweep-into", "sweep", "window-open", "window-close",
)
ML45_TRAIN_TASKS = (
    "assembly", "basketball", "button-press-topdown", "button-press-topdown-wall", "button-press",
    "button-press-wall", "coffee-button", "coffee-pull", "coffee-push", "dial-turn", "disassemble",
    "door-close", "door-open", "drawer-close", "drawer-open", "faucet-open", "faucet-close",
    "hammer", "handle-press-side", "handle-press", "handle-pull-side", "handle-pull", "lever-pull",
    "pick-place-wall", "pick-out-of-hole", "push-back", "pick-place", "plate-slide",
    "plate-slide-side", "plate-slide-back", "plate-slide-back-side", "peg-insert-side",
    "peg-unplug-side", "soccer", "stick-push", "stick-pull", "push-wall", "push", "reach-wall",
    "reach", "shelf-place", "sweep-into", "sweep", "window-open", "window-close",
)
ML45_TEST_TASKS = ("bin-picking", "box-close", "hand-insert", "door-lock", "door-unlock")


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


def MT50() -> Benchmark:
    return Benchmark("MT50", MT50_TASKS, MT50_TASKS)


def ML45() -> Benchmark:
    return Benchmark("ML45", ML45_TRAIN_TASKS, ML45_TEST_TASKS)


def MTALL() -> Benchmark:
    """Every registered task, multi-task: MT50 and the tasks of installed plug-in packages."""
    tasks = tuple(TASKS)
    return Benchmark("MTALL", tasks, tasks)


BENCHMARKS = {"MT1": MT1, "ML1": ML1, "MT10": MT10, "ML10": ML10, "MT50": MT50, "ML45": ML45, "MTALL": MTALL}


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
