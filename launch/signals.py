"""Clean shutdown on SIGINT (Ctrl-C) and SIGTERM (what Slurm and most schedulers send
before they kill a job): the first one asks the loop to checkpoint and stop after
the current step; a second one aborts at once without saving."""

from __future__ import annotations

import signal
import threading

#: the signals that checkpoint and stop, and their names in messages
HANDLED = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class InterruptFlag:
    """``with InterruptFlag() as flag:`` ... ``flag.requested`` is the signal number received, or None."""

    def __init__(self):
        self.requested: int | None = None
        self._previous: dict = {}

    def _handle(self, signum, frame):
        if self.requested is not None:
            raise KeyboardInterrupt
        self.requested = signum
        print(f"\n{HANDLED[signum]}: saving a checkpoint after this step (send it again to abort without saving)", flush=True)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {signum: signal.signal(signum, self._handle) for signum in HANDLED}
        return self

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        return False


def exit_code(signum: int) -> int:
    """The shell's convention: 128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + int(signum)
