"""Where the supervised modules keep what they build once (datasets, base models), and how they write it.

``$POLYTASK_CACHE``, else ``~/.cache/polytask``.  Writes are atomic (a
temporary file in the same folder, then a rename), so a concurrent reader
never sees half a file and an interrupted build leaves no broken entry.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["cache_dir", "write_atomically"]


def cache_dir() -> Path:
    return Path(os.environ.get("POLYTASK_CACHE") or Path.home() / ".cache" / "polytask")


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Create ``path`` with what ``write(file)`` writes, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
