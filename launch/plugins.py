"""Modules named with ``--import MODULE``: imported before a command runs, and
recorded with a run so that ``eval``, ``render`` and resuming import them again.

A module that registers tasks (``envs.register_task``) or learners
(``launch.algorithms.register_algorithm``) makes them known to every command;
tasks of an installed package come through the ``polytask.tasks`` entry-point
group instead (``envs.registry.load_plugin_tasks``) and need no flag.
"""

from __future__ import annotations

import importlib

from launch.errors import UsageError

#: modules imported through --import in this process, in order
IMPORTED: list[str] = []


def import_modules(names, why: str = "--import") -> None:
    """Import each module (once), or raise a UsageError saying which one failed and why."""
    for name in names:
        if name in IMPORTED:
            continue
        try:
            importlib.import_module(name)
        except Exception as error:  # an ImportError, or the module's own failure while registering
            raise UsageError(f"{why}: cannot import module {name!r} ({type(error).__name__}: {error}); "
                             "it must be importable from the current directory or PYTHONPATH") from None
        IMPORTED.append(name)


def take_import_flags(argv: list[str]) -> list[str]:
    """``argv`` without its ``--import MODULE`` / ``--import=MODULE`` options, which are imported now."""
    rest, names = [], []
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--import":
            name = next(arguments, None)
            if name is None or name.startswith("-"):
                raise UsageError("--import needs a module name, e.g. --import mypackage.tasks")
            names.append(name)
        elif argument.startswith("--import="):
            names.append(argument.split("=", 1)[1])
        else:
            rest.append(argument)
    import_modules(names)
    return rest
