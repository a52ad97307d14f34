"""Meta-World's benchmarks as a suite (``env.suite=metaworld``).

Meta-World (Yu et al., CoRL 2019; v3 envs, ``pip install 'polytask[metaworld]'``)
shares polytask's 39-d observation and 4-d action layout, so a learner written
for polytask runs on it unchanged through the suite interface
(``envs.suite``): vector envs with ``NEXT_STEP`` autoreset, ``info["task_id"]``
and snapshots, and an evaluator returning an ``EvalReport``.

Meta-World's side is built with its own gymnasium API
(``gymnasium.make_vec("Meta-World/MT10", vector_strategy="sync", ...)``) and
evaluated with its own ``metaworld.evaluation.evaluation``: episodes end at
the first success (``terminate_on_success``), so an episode succeeds if
``success`` was 1 at any step, and its return counts up to that step. Goals
(Meta-World's "tasks", 50 per env) are drawn from the suite's seed, so
training and evaluation envs share them. Meta-World's MT benchmarks have no
held-out split: their "test" split is their train tasks. Its snapshots hold
goal lists and RNG streams, not physics: restored worlds start new episodes.
Meta-learners ask ML benchmarks for ``num_worlds`` worlds whose task and
variation (goal) they choose at reset: ``envs.metaworld_trials``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from envs.base import MAX_EPISODE_STEPS
from envs.evaluation import BatchPolicy
from envs.registry import unknown_name_error
from envs.report import EvalReport
from envs.suite import EnvConfig, Evaluator, Suite, register_suite
from envs.variations import check_split

METAWORLD_BENCHMARKS: tuple[str, ...] = ("MT1", "MT10", "MT50", "ML1", "ML10", "ML45")
#: Meta-World's env version this bridge targets (its task names end in it)
METAWORLD_VERSION = "-v3"


def require_metaworld():
    """The ``metaworld`` module, or an ImportError saying how to install it."""
    try:
        import metaworld
    except ImportError as error:
        raise ImportError(f"suite 'metaworld' needs the metaworld package ({error}); install it with: pip install 'polytask[metaworld]'") from error
    return metaworld


def metaworld_task_name(task: str) -> str:
    """Meta-World's name of a task: ``"reach"`` or ``"reach-v3"`` -> ``"reach-v3"``."""
    name = task if task.endswith(METAWORLD_VERSION) else task + METAWORLD_VERSION
    if name not in _all_envs():
        raise unknown_name_error("Meta-World task", name, _all_envs())
    return name


def metaworld_tasks(benchmark: str, split: str = "train", task: str | None = None) -> tuple[str, ...]:
    """The Meta-World task names of ``benchmark``'s ``split``, in task-id order."""
    require_metaworld()
    from metaworld import env_dict

    check_split(split)
    if benchmark not in METAWORLD_BENCHMARKS:
        raise unknown_name_error("Meta-World benchmark", benchmark, METAWORLD_BENCHMARKS)
    single = benchmark in ("MT1", "ML1")
    if single != (task is not None):
        raise ValueError(f"{benchmark} needs a task (e.g. task='reach')" if single else f"{benchmark} takes no task (got {task!r}); only MT1 and ML1 do")
    if single:
        return (metaworld_task_name(task),)
    if benchmark in ("MT10", "MT50"):
        return tuple(env_dict.MT10_V3 if benchmark == "MT10" else env_dict.MT50_V3)
    return tuple((env_dict.ML10_V3 if benchmark == "ML10" else env_dict.ML45_V3)[split])


class MetaWorldVectorEnv(gym.vector.VectorWrapper):
    """A Meta-World vector env (one world per task and goal subset) whose infos
    carry ``task_id``, with polytask's ``world_tasks`` and state snapshots."""

    #: snapshots hold goals and RNG streams, not physics: restored worlds start new episodes
    restores_episodes = False

    def __init__(self, env: gym.vector.VectorEnv, benchmark: str, split: str, task_names: tuple[str, ...]):
        super().__init__(env)
        class_to_name = {cls.__name__: name for name, cls in _all_envs().items()}
        self.benchmark, self.split, self.task_names = benchmark, split, task_names
        self.world_tasks = [class_to_name[cls] for cls in env.get_attr("task_name")]
        self.world_task_ids = np.array([task_names.index(name) for name in self.world_tasks])

    def _with_task_ids(self, info: dict) -> dict:
        info["task_id"] = self.world_task_ids.copy()
        info["_task_id"] = np.ones(self.num_envs, dtype=bool)
        return info

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, self._with_task_ids(info)

    def step(self, actions):
        obs, reward, terminated, truncated, info = self.env.step(actions)
        return obs, reward, terminated, truncated, self._with_task_ids(info)

    @property
    def tasks_now(self) -> list[str]:
        return list(self.world_tasks)

    def get_state(self) -> dict[str, Any]:
        """Meta-World's own checkpoint of every world: goal lists and RNG streams."""
        return {"checkpoints": list(self.env.call("get_checkpoint")), "world_tasks": list(self.world_tasks)}

    def set_state(self, state: dict[str, Any]) -> np.ndarray:
        """Restore :meth:`get_state` and start fresh episodes; returns their observations.

        Meta-World checkpoints RNG streams and goal lists, not physics, so
        episodes in flight restart (as in Meta-World's own resume); callers
        take the returned observations and treat no world as mid-episode.
        """
        if state["world_tasks"] != self.world_tasks:
            raise ValueError(f"snapshot is of worlds {state['world_tasks']}, this env runs {self.world_tasks}")
        # one world at a time: Meta-World names an ML world's checkpoint by its env
        # class only, so handing every world the whole list gives all of them the first's
        for world, checkpoint in zip(self.env.unwrapped.envs, state["checkpoints"]):
            world.get_wrapper_attr("load_checkpoint")([checkpoint])
        obs, _ = self.env.reset()
        return obs


def _all_envs():
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS

    return ALL_V3_ENVIRONMENTS


def make_metaworld_vec(
    benchmark: str = "MT10",
    split: str = "train",
    task: str | None = None,
    seed: int = 0,
    worlds_per_task: int = 1,
    autoreset_mode: gym.vector.AutoresetMode = gym.vector.AutoresetMode.NEXT_STEP,
    terminate_on_success: bool = False,
) -> MetaWorldVectorEnv:
    """A Meta-World benchmark split as a sync vector env with ``task_id`` infos.

    MT benchmarks hold one world per task (``worlds_per_task`` must be 1); ML
    benchmarks split each task's 50 goals over ``worlds_per_task`` worlds.
    """
    tasks = metaworld_tasks(benchmark, split, task)
    if not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int (Meta-World draws its goal sets from it), got {seed!r}")
    if worlds_per_task < 1 or (benchmark.startswith("MT") and worlds_per_task != 1):
        raise ValueError(f"worlds_per_task must be 1 for Meta-World's MT benchmarks and >= 1 for ML ones, got {worlds_per_task}")
    common = dict(vector_strategy="sync", seed=int(seed), autoreset_mode=autoreset_mode, terminate_on_success=terminate_on_success)
    if benchmark == "MT1":
        # Meta-World registers MT1 as a single env; vectorize it like the others
        make_one = lambda: gym.make("Meta-World/MT1", env_name=tasks[0], seed=int(seed), disable_env_checker=True,  # noqa: E731
                                    terminate_on_success=terminate_on_success)
        env = gym.vector.SyncVectorEnv([make_one], autoreset_mode=autoreset_mode)
    elif benchmark in ("MT10", "MT50"):
        env = gym.make_vec(f"Meta-World/{benchmark}", **common)
    else:
        name = "ML1" if benchmark == "ML1" else benchmark
        extra = {"env_name": tasks[0]} if benchmark == "ML1" else {}
        env = gym.make_vec(f"Meta-World/{name}-{split}", meta_batch_size=len(tasks) * worlds_per_task, **extra, **common)
        # Meta-World's ML envs switch goals only when asked (its meta-evaluation does);
        # a learner that just resets expects a fresh goal each episode, as in MT.
        env.call("toggle_sample_tasks_on_reset", True)
    return MetaWorldVectorEnv(env, benchmark, split, tasks)


def evaluate_metaworld(policy: BatchPolicy, envs: MetaWorldVectorEnv, episodes_per_task: int = 10, title: str | None = None) -> EvalReport:
    """Meta-World's success-rate protocol (``metaworld.evaluation.evaluation``) as an EvalReport.

    ``envs`` must autoreset in ``SAME_STEP`` mode, which that function reads
    its finished episodes from (``MetaWorldSuite.evaluator`` builds it so).
    """
    from metaworld.evaluation import evaluation

    if episodes_per_task < 1:
        raise ValueError(f"episodes_per_task must be >= 1, got {episodes_per_task}")
    if envs.env.metadata.get("autoreset_mode") != gym.vector.AutoresetMode.SAME_STEP:
        raise ValueError("evaluate_metaworld needs an env built with autoreset_mode=AutoresetMode.SAME_STEP")

    class _Agent:  # metaworld.evaluation.Agent over our batch policy
        def eval_action(self, observations):
            return np.asarray(policy(observations, envs.world_task_ids), dtype=np.float64)

        def reset(self, env_mask):
            pass

    _, _, success_rate, returns = evaluation(_Agent(), envs.env, num_episodes=episodes_per_task)
    report = EvalReport(title=title or f"Meta-World {envs.benchmark} ({envs.split}, {episodes_per_task} episodes per task)")
    for name in envs.task_names:
        report.add(name, success_rate=success_rate[name], episode_return=float(np.mean(returns[name])))
    return report


@register_suite
class MetaWorldSuite(Suite):
    name = "metaworld"

    def __init__(self, config: EnvConfig, seed: int = 0):
        super().__init__(config, seed)
        if config.batched:
            self.reject("batched", True, "Meta-World's envs step one by one in gymnasium's SyncVectorEnv; leave env.batched unset")
        if config.physics_threads is not None:
            self.reject("physics_threads", config.physics_threads, "it sets polytask's batched simulator; leave it unset")
        if config.simulation_actors:
            self.reject("simulation_actors", config.simulation_actors, "actors run polytask's batched simulator; leave it 0")
        if config.goal_observable is not None and config.goal_observable == config.meta_learning:
            self.reject("goal_observable", config.goal_observable, "Meta-World shows the goal on MT benchmarks and hides it on ML ones; leave it unset")
        if config.eval_max_steps != MAX_EPISODE_STEPS:
            self.reject("eval_max_steps", config.eval_max_steps, f"Meta-World's evaluation runs its own {MAX_EPISODE_STEPS}-step episodes")
        if config.benchmark.startswith("MT") and config.worlds_per_task != 1:
            self.reject("worlds_per_task", config.worlds_per_task, "worlds_per_task must be 1 for Meta-World's MT benchmarks (its ML ones split goals over several)")
        self._tasks = {split: metaworld_tasks(config.benchmark, split, config.task) for split in ("train", "test")}
        self._built: dict[str, MetaWorldVectorEnv] = {}

    def tasks(self, split: str = "train") -> tuple[str, ...]:
        check_split(split)
        return self._tasks[split]

    def _benchmark_vec(self, split: str, **options) -> MetaWorldVectorEnv:
        c = self.config
        return make_metaworld_vec(c.benchmark, split, c.task, seed=self.seed, worlds_per_task=c.worlds_per_task, **options)

    def make_vec(self, split: str = "train", *, tasks: tuple[str, ...] | None = None, one_hot: bool = False,
                 num_worlds: int | None = None):
        if num_worlds is not None:
            if not self.config.meta_learning:
                # Meta-World's MT vector envs fix one world per task at construction
                self.reject("num_worlds", num_worlds, "Meta-World's MT benchmarks have one world per task; its ML ones take any number")
            from envs.metaworld_trials import MetaWorldTrialsVectorEnv

            task = None if self.config.task is None else metaworld_task_name(self.config.task)
            return MetaWorldTrialsVectorEnv(self.config.benchmark, split, tasks or self.tasks(split), num_worlds, self.seed, task)
        if one_hot:
            self.reject("one_hot", True, "learners condition on info['task_id'] instead")
        if tasks is None:
            return self._benchmark_vec(split)
        # the benchmark's own worlds (their goal sets drawn from the seed), regrouped by task
        if split not in self._built:
            self._built[split] = self._benchmark_vec(split)
        full = self._built[split]
        names = tuple(metaworld_task_name(task) for task in tasks)
        missing = [name for name in names if name not in full.task_names]
        if missing:
            raise unknown_name_error(f"task of Meta-World {full.benchmark}/{split}", missing[0], full.task_names,
                                     plural=f"tasks of Meta-World {full.benchmark}/{split}")
        worlds = [world for world, name in zip(full.env.unwrapped.envs, full.world_tasks) if name in names]
        grouped = gym.vector.SyncVectorEnv([lambda world=world: world for world in worlds], autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP)
        return MetaWorldVectorEnv(grouped, full.benchmark, split, names)

    def evaluator(self, split: str | None = None) -> Evaluator:
        split = split or self.config.eval_split
        built: list[MetaWorldVectorEnv] = []
        default_episodes = self.config.eval_episodes_per_task

        def evaluate(policy: BatchPolicy, episodes_per_task: int | None = None) -> EvalReport:
            if not built:  # built on first use, with the training envs' seed, so the goal sets agree
                built.append(self._benchmark_vec(split, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP, terminate_on_success=True))
            return evaluate_metaworld(policy, built[0], episodes_per_task or default_episodes)

        evaluate.close = lambda: [env.close() for env in built]
        return evaluate
