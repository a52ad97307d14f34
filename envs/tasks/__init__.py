"""The built-in tasks, one module each; importing this package registers them.

Modules are discovered by name so that adding a task is adding one file.
"""

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    importlib.import_module(f"{__name__}.{_module}")

# Registration follows import order (a task importing a sibling's helpers
# registers it first); list the built-ins alphabetically instead.
from envs.registry import TASKS as _TASKS  # noqa: E402

for _name in sorted(_TASKS):
    _TASKS[_name] = _TASKS.pop(_name)
