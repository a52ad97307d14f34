"""The built-in tasks, one module each; importing this package registers them.

Modules are discovered by name so that adding a task is adding one file.
"""

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    importlib.import_module(f"{__name__}.{_module}")
