"""Suites: where a learner's environments come from, behind one interface.

A learner is given an :class:`EnvConfig` apart from its own config (the CLI's
``--env.*`` group) and hands it to :func:`make_suite`, which returns the
suite object of ``config.suite`` (polytask's own tasks, or Meta-World's).
The suite names the tasks of a split and builds the vector envs and the
evaluator; no learner asks which suite it runs on. A new suite is a
:class:`Suite` subclass and one :func:`register_suite` call.

What every suite's vector env offers (the collector in ``agents/`` relies
on it): gymnasium's ``NEXT_STEP`` autoreset, resets of chosen worlds with
``options={"reset_mask": mask}``, ``info["task_id"]`` (the index into
``suite.tasks(split)``) after every reset and step, ``get_state()`` /
``set_state()`` snapshots, and ``restores_episodes`` (whether a restored
world continues its episode or starts a new one).
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, Callable, ClassVar, Literal

import gymnasium as gym

from envs.base import MAX_EPISODE_STEPS
from envs.registry import unknown_name_error
from envs.report import EvalReport
from envs.variations import VARIATIONS_PER_TASK

SuiteName = Literal["polytask", "metaworld"]
#: an evaluator runs ``episodes_per_task`` episodes of ``policy`` (the config's when None) and reports per task
Evaluator = Callable[..., EvalReport]


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """Which environments a learner trains on and is evaluated on."""

    suite: SuiteName = "polytask"
    """Whose environments: polytask's own tasks, or Meta-World's (needs polytask[metaworld])."""
    benchmark: str = "MT10"
    """Benchmark: MT1, MT10, MT50, MTALL, ML1, ML10, ML45 (Meta-World: MT1, MT10, MT50, ML1, ML10, ML45); MT1 and ML1 need a task."""
    task: str | None = None
    """The task of an MT1 or ML1 benchmark (e.g. reach); unset for the others."""
    worlds_per_task: int = 1
    """Simulated worlds per task in the training vector env; one vector step takes one env step in each."""
    batched: bool | None = None
    """Step the worlds in batch (polytask's batched simulator); None: the suite's default (polytask: yes)."""
    physics_threads: int | None = None
    """Threads of the batched simulator (of each simulation actor); None: every core this process may use (one per actor)."""
    simulation_actors: int = 0
    """Ray actors that each simulate a share of the training worlds (needs polytask[sweep]; joins RAY_ADDRESS
    when set); 0: simulate in this process."""
    goal_observable: bool | None = None
    """Show the goal in the observation; None: the benchmark's default (MT: shown, ML: hidden)."""
    eval_split: Literal["train", "test"] = "test"
    """Variations (and for ML benchmarks, tasks) evaluated on: the train ones or the held-out test ones."""
    eval_episodes_per_task: int = 10
    """Evaluation episodes of every task (episode k runs the task's k-th variation of the split)."""
    eval_max_steps: int = MAX_EPISODE_STEPS
    """Steps of every evaluation episode."""

    def __post_init__(self):
        if self.worlds_per_task < 1 or self.eval_episodes_per_task < 1:
            raise ValueError(f"env.worlds_per_task and env.eval_episodes_per_task must be >= 1, got "
                             f"{self.worlds_per_task} and {self.eval_episodes_per_task}")
        if not 1 <= self.eval_max_steps <= MAX_EPISODE_STEPS:
            raise ValueError(f"env.eval_max_steps must lie in [1, {MAX_EPISODE_STEPS}], got {self.eval_max_steps}")
        if self.simulation_actors < 0:
            raise ValueError(f"env.simulation_actors must be >= 0, got {self.simulation_actors}")
        if self.physics_threads is not None and self.physics_threads < 1:
            raise ValueError(f"env.physics_threads must be >= 1 or None, got {self.physics_threads}")

    @property
    def meta_learning(self) -> bool:
        """An ML benchmark: test tasks (or variations) are held out for adaptation."""
        return self.benchmark.upper().startswith("ML")

    @property
    def goal_shown(self) -> bool:
        """``goal_observable``, or the benchmark's default: meta-learners must infer an ML task from
        experience, so ML benchmarks hide the goal (as Meta-World's do); MT benchmarks show it."""
        return not self.meta_learning if self.goal_observable is None else self.goal_observable


class Suite(abc.ABC):
    """One source of environments, configured by an :class:`EnvConfig` and a seed."""

    name: ClassVar[str]
    #: variations of every task in each split: reset option ``variation`` takes an index below it
    variations_per_task: ClassVar[int] = VARIATIONS_PER_TASK

    def __init__(self, config: EnvConfig, seed: int = 0):
        self.config, self.seed = config, seed

    @abc.abstractmethod
    def tasks(self, split: str = "train") -> tuple[str, ...]:
        """The task names of ``split``, in task-id order."""

    @abc.abstractmethod
    def make_vec(self, split: str = "train", *, tasks: tuple[str, ...] | None = None, one_hot: bool = False,
                 num_worlds: int | None = None) -> gym.vector.VectorEnv:
        """A vector env over ``split`` (or the given ``tasks`` of it): ``config.worlds_per_task`` worlds per task,
        or ``num_worlds`` worlds (at least one per task) started round robin over the tasks.

        ``info["task_id"]`` indexes ``tasks`` when given, else ``self.tasks(split)``."""

    @abc.abstractmethod
    def evaluator(self, split: str | None = None) -> Evaluator:
        """``evaluate(policy, episodes_per_task=None) -> EvalReport`` over ``split`` (default ``config.eval_split``)."""

    def adaptation_evaluator(self, split: str | None = None, max_steps: int | None = None) -> Callable[..., EvalReport]:
        """``evaluate(agent, variations_per_task=None) -> EvalReport``: the adapt-then-evaluate protocol
        (``envs.adaptation``) of a meta-learning agent on ``split`` (default ``config.eval_split``), its
        trials run in this suite's vector env, ``config.eval_episodes_per_task`` variations per task,
        episodes of ``max_steps`` (default ``config.eval_max_steps``) steps."""
        from envs.adaptation import AdaptationEvaluator

        split = split or self.config.eval_split

        def check(variations: int) -> int:
            # the protocol runs each variation once: more trials than variations cannot be met (refused up front,
            # not at the first evaluation of a long run)
            if variations > self.variations_per_task:
                raise ValueError(f"env.eval_episodes_per_task={variations} asks for more trials per task than the "
                                 f"{self.variations_per_task} {split} variations each task has (the adaptation protocol "
                                 f"runs each variation once); use 1-{self.variations_per_task}")
            return variations

        check(self.config.eval_episodes_per_task)
        run = AdaptationEvaluator(lambda n: self.make_vec(split, num_worlds=n), self.tasks(split),
                                  max_steps=max_steps or self.config.eval_max_steps,
                                  title=f"{self.config.benchmark}{'-' + self.config.task if self.config.task else ''} ({split})")

        def evaluate(agent, variations_per_task: int | None = None) -> EvalReport:
            return run(agent, check(variations_per_task or self.config.eval_episodes_per_task))

        evaluate.close = run.close
        return evaluate

    def reject(self, field: str, value: Any, accepted: str) -> None:
        """Raise the error for an env option this suite cannot honour."""
        raise ValueError(f"suite {self.name!r} cannot honour env.{field}={value!r}: {accepted}")


SUITES: dict[str, type[Suite]] = {}


def register_suite(cls: type[Suite]) -> type[Suite]:
    SUITES[cls.name] = cls
    return cls


def make_suite(config: EnvConfig, seed: int = 0) -> Suite:
    """The suite object ``config.suite`` names, checked against ``config``
    (an option it cannot honour raises a ValueError naming what it accepts)."""
    if config.suite not in SUITES:
        raise unknown_name_error("suite", config.suite, SUITES)
    return SUITES[config.suite](config, seed)
