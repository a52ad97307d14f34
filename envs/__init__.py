"""polytask's environment suite: MuJoCo manipulation tasks with one 39-d
observation and 4-d action space, their scripted experts, and benchmarks.

``import envs`` registers every built-in task with gymnasium as
``polytask/<task>-v<N>``, the benchmarks as vector envs
(``gymnasium.make_vec("polytask/MT10")``), and the tasks of installed
packages' ``polytask.tasks`` entry points. Outside code adds tasks with
:func:`register_task`.
"""

import os

# Offscreen rendering needs a GL backend chosen before mujoco is imported;
# on a machine without a display, EGL is the one that works.
if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "egl"

from envs.base import (  # noqa: E402
    ACTION_DIM,
    FRAME_SKIP,
    INFO_KEYS,
    MAX_EPISODE_STEPS,
    OBS_DIM,
    DynamicsVariation,
    PolytaskEnv,
)
from envs.benchmarks import (  # noqa: E402
    BENCHMARKS,
    ML1,
    ML10,
    ML45,
    MT1,
    MT10,
    MT50,
    MTALL,
    Benchmark,
    get_benchmark,
    variation_seeds,
)
from envs.registry import TASK_SOURCES, TASKS, env_id, get_task, load_plugin_tasks, make, register_task, scripted_policy  # noqa: E402
from envs.vector import BenchmarkVectorEnv, MultiTaskEnv, make_benchmark_vec  # noqa: E402
from envs import tasks as _builtin_tasks  # noqa: E402,F401  (registers the built-in tasks)
from envs.gym_ids import register_benchmark_ids  # noqa: E402
from envs.suite import SUITES, EnvConfig, Suite, make_suite, register_suite  # noqa: E402
from envs import metaworld_suite as _metaworld_suite, polytask_suite as _polytask_suite  # noqa: E402,F401  (register the suites)

register_benchmark_ids()
load_plugin_tasks()  # tasks of installed packages (the polytask.tasks entry points), after the built-ins

__all__ = [
    "ACTION_DIM",
    "BENCHMARKS",
    "FRAME_SKIP",
    "INFO_KEYS",
    "MAX_EPISODE_STEPS",
    "ML1",
    "ML10",
    "ML45",
    "MT1",
    "MT10",
    "MT50",
    "MTALL",
    "OBS_DIM",
    "SUITES",
    "TASKS",
    "TASK_SOURCES",
    "Benchmark",
    "BenchmarkVectorEnv",
    "DynamicsVariation",
    "EnvConfig",
    "MultiTaskEnv",
    "PolytaskEnv",
    "Suite",
    "env_id",
    "get_benchmark",
    "get_task",
    "load_plugin_tasks",
    "make",
    "make_benchmark_vec",
    "make_suite",
    "register_suite",
    "register_task",
    "scripted_policy",
    "variation_seeds",
]
