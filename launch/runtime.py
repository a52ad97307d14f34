"""Process-wide settings a run depends on: device choice, seeding of every
global generator, deterministic mode, and capturing/restoring RNG states so a
resumed run continues exactly where the interrupted one stopped."""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch


def resolve_device(choice: str, flag: str = "--run.device") -> torch.device:
    """``auto`` picks cuda when available; asking for cuda without one is an error, not a silent cpu run
    (``flag`` is the option that chose, named in the error)."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device 'cuda' was asked for but torch sees no CUDA device; use {flag} cpu or auto")
        return torch.device("cuda")
    raise ValueError(f"unknown device {choice!r}; accepted: auto, cpu, cuda")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def set_cpu_threads(threads: int) -> None:
    """0 keeps torch's default; deterministic mode overrides this with one thread."""
    if threads > 0:
        torch.set_num_threads(threads)


def set_deterministic(enabled: bool) -> None:
    """Deterministic kernels and one CPU thread: thread count changes float reduction order."""
    if not enabled:
        return
    # cuBLAS needs this before its first use to be deterministic (PyTorch reproducibility notes).
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.set_num_threads(1)


def capture_rng_states() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_states(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextlib.contextmanager
def preserved_rng_states():
    """Whatever runs inside (evaluation) leaves the global generators as it found them,
    so how often a run evaluates does not change what it learns."""
    state = capture_rng_states()
    try:
        yield
    finally:
        restore_rng_states(state)
