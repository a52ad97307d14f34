"""The task registry: data that every test, benchmark and CLI iterates over.

``register_task(cls)`` adds a task class and registers it with gymnasium as
``polytask/<name>-v<version>``. Outside packages call it the same way the
built-in task files do, and an installed package makes its tasks known to
every command by naming them in the ``polytask.tasks`` entry-point group
(a module that registers tasks when imported, or a task class):

    [project.entry-points."polytask.tasks"]
    touch-puck = "mypackage.tasks"

``import envs`` loads them (:func:`load_plugin_tasks`); ``TASK_SOURCES`` says
where each task came from.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import warnings
from typing import Callable

import gymnasium as gym
import numpy as np

from envs.base import MAX_EPISODE_STEPS, PolytaskEnv

#: name -> task class, in registration order
TASKS: dict[str, type[PolytaskEnv]] = {}
#: name -> where the task comes from: "built-in", its module, or its package's entry point
TASK_SOURCES: dict[str, str] = {}
#: the entry-point group of tasks from installed packages
ENTRY_POINT_GROUP = "polytask.tasks"


def env_id(name: str) -> str:
    """The gymnasium id of a registered task, e.g. ``polytask/reach-v0``."""
    return f"polytask/{name}-v{get_task(name).version}"


def unknown_name_error(kind: str, name: str, known, plural: str | None = None) -> ValueError:
    """A ValueError naming the close matches among ``known`` (``plural`` defaults to kind + "s")."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(f"unknown {kind} {name!r}.{hint} Known {plural or kind + 's'}: {', '.join(known)}")


def get_task(name: str) -> type[PolytaskEnv]:
    """The task class registered under ``name`` (raises with near matches)."""
    try:
        return TASKS[name]
    except KeyError:
        raise unknown_name_error("task", name, TASKS) from None


def register_task(cls: type[PolytaskEnv], *, override: bool = False) -> type[PolytaskEnv]:
    """Register a task class (usable as a decorator).

    The class needs a ``name``, ``build``, ``reset_task``, ``evaluate`` and
    ``expert``. Registering a second class under a taken name raises unless
    ``override=True``.
    """
    if not (isinstance(cls, type) and issubclass(cls, PolytaskEnv)):
        raise TypeError(f"register_task expects a PolytaskEnv subclass, got {cls!r}")
    if not cls.name or cls.name != cls.name.strip() or " " in cls.name:
        raise ValueError(f"{cls.__name__}.name must be a non-empty name without spaces, got {cls.name!r}")
    missing = [m for m in ("build", "reset_task", "evaluate", "expert") if getattr(cls, m) is getattr(PolytaskEnv, m)]
    if missing:
        raise TypeError(f"{cls.__name__} must implement {', '.join(missing)} to be a task")
    if cls.name in TASKS and TASKS[cls.name] is not cls and not override:
        raise ValueError(f"task {cls.name!r} is already registered by {TASKS[cls.name].__module__}; pass override=True")
    TASKS[cls.name] = cls
    TASK_SOURCES[cls.name] = "built-in" if cls.__module__.startswith("envs.tasks") else f"module {cls.__module__}"
    gym_id = f"polytask/{cls.name}-v{cls.version}"
    if gym_id in gym.registry:
        del gym.registry[gym_id]
    gym.register(id=gym_id, entry_point=cls, max_episode_steps=MAX_EPISODE_STEPS)
    return cls


def make(name: str, **kwargs) -> gym.Env:
    """``gymnasium.make`` for a task by its short name (``"reach"``)."""
    return gym.make(env_id(name), **kwargs)


def scripted_policy(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The task's scripted expert: a callable ``obs -> action``."""
    return get_task(name).expert


def load_plugin_tasks() -> list[str]:
    """Register the tasks of every installed package's ``polytask.tasks`` entry points; returns their names.

    A plugin that fails to load is reported as a warning naming it, and the others still load:
    one broken package must not take every command down.
    """
    loaded = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        before = set(TASKS)
        where = f"{entry_point.dist.name if entry_point.dist else 'a package'} (entry point {entry_point.name} = {entry_point.value})"
        try:
            target = entry_point.load()
            if isinstance(target, type) and issubclass(target, PolytaskEnv) and target.name not in TASKS:
                register_task(target)
        except Exception as error:
            warnings.warn(f"polytask: the tasks of {where} failed to load ({type(error).__name__}: {error}); they are not registered",
                          stacklevel=2)
            continue
        for name in TASKS.keys() - before:
            TASK_SOURCES[name] = where
            loaded.append(name)
    return loaded
