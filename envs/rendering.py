"""Renderers closed at interpreter exit, while EGL is still there to free their contexts.

A ``mujoco.Renderer`` left to the garbage collector at exit prints an
``EGLError`` traceback: mujoco's own exit handler has shut EGL down by then.
"""

from __future__ import annotations

import atexit
import weakref

_OPEN: weakref.WeakSet = weakref.WeakSet()
_HANDLER = None


def close_at_exit(env) -> None:
    """Close ``env`` (anything with ``close()``) at exit unless it is closed or collected first."""
    global _HANDLER
    if _HANDLER is None:
        # registered after the first renderer, hence after mujoco's exit handler that shuts EGL
        # down (its backend is imported with that renderer): exit handlers run last-registered first
        _HANDLER = atexit.register(_close_all)
    _OPEN.add(env)


def _close_all() -> None:
    for env in list(_OPEN):
        env.close()
    _OPEN.clear()
