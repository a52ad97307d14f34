"""Resuming a run: loading its checkpoint into a learner built with the same configs,
and saying which settings may differ from the checkpoint's.

The loop's side (:func:`resume_if_asked`) refuses a checkpoint trained with
another algorithm, algorithm config or env config, and puts the schedule back
where it was: an evaluation owed at the checkpoint's progress is still owed;
a run that had reached its budget (its final evaluation done) continues its
evaluation schedule after it, and a budget below its progress is refused.
The command line's side (``launch.cli``) rebuilds every config from the
checkpoint and lets only :data:`CHANGEABLE_RUN_FIELDS` change.
"""

from __future__ import annotations

from pathlib import Path

from launch.checkpoint import CheckpointError, latest_checkpoint, list_checkpoints, load_algorithm_state, load_checkpoint, progress_of
from launch.config import RunConfig
from launch.runtime import restore_rng_states

#: run settings a resumed run may change: how long and how often, where, and how it reports
CHANGEABLE_RUN_FIELDS = ("budget", "eval_every", "checkpoint_every", "log_every", "keep_checkpoints", "device",
                         "cpu_threads", "progress_bar", "eval_video", "resume", "name", "runs_dir")


def next_multiple(progress: int, every: int) -> int:
    return (progress // every + 1) * every


def differences(saved: dict, given: dict) -> str:
    keys = sorted(set(saved) | set(given))
    return "; ".join(f"{k}: checkpoint {saved.get(k, '<absent>')!r} vs now {given.get(k, '<absent>')!r}"
                     for k in keys if saved.get(k, "<absent>") != given.get(k, "<absent>"))


def resume_if_asked(algorithm, run: RunConfig, schedule, identity: dict) -> tuple[Path | None, dict | None]:
    """Load the checkpoint ``run.resume`` names into ``algorithm`` and restore ``schedule``;
    returns (its path, its data), or (None, None) for a fresh run. Refuses to silently
    overwrite a run that already has checkpoints."""
    existing = latest_checkpoint(run.run_dir)
    if run.resume is None:
        if existing is not None:
            raise CheckpointError(
                f"{run.run_dir} already holds checkpoints (newest: {existing.name}); pass --run.resume auto "
                f"to continue that run, or --run.name NEW for a fresh one"
            )
        return None, None
    if run.resume == "auto":
        if existing is None:
            print(f"--run.resume auto: {run.run_dir} has no checkpoint yet; starting a fresh run")
            return None, None
        source = existing
    else:
        source = Path(run.resume)
    path, data = load_checkpoint(source)
    if data["algorithm"] != identity["algorithm"]:
        raise CheckpointError(f"{path} was trained by {data['algorithm']!r}, not {identity['algorithm']!r}")
    changed = differences(data["algorithm_config"], identity["algorithm_config"])
    if changed:
        raise CheckpointError(f"{path} was trained with a different {identity['algorithm']} config: {changed}; "
                              "resume with the config it was trained with")
    changed = differences(data.get("env_config") or {}, identity["env_config"] or {})
    if changed:
        raise CheckpointError(f"{path} was trained on other environments: {changed}; resume with the env config it was trained with")
    loop = data["loop"]
    progress, saved = loop["progress"], loop["schedule"]
    if schedule.budget < progress:
        raise CheckpointError(f"{path} is at {progress} {algorithm.unit}, beyond --run.budget {schedule.budget}: there is nothing "
                              f"to train; give a budget above {progress} to continue the run, or `python -m launch eval "
                              f"{run.run_dir}` to evaluate it")
    load_algorithm_state(algorithm, data, path)
    _set_aside_later_checkpoints(run.run_dir, progress)
    if algorithm.progress() != progress:
        raise CheckpointError(f"{path}: algorithm reports progress {algorithm.progress()} after loading, loop saved {progress}")
    schedule.wall_time_s = saved["wall_time_s"]
    schedule.start_at(progress)
    if saved["eval_every"] == schedule.eval_every and progress < saved["budget"]:
        # checkpoints are taken before evaluating, so an evaluation due at this progress is still owed;
        # a run that had reached its budget evaluated there already (its final evaluation)
        schedule.next_eval = saved["next_eval"]
    restore_rng_states(loop["rng"])
    return path, data


def _set_aside_later_checkpoints(run_dir: Path, progress: int) -> None:
    """Resuming from an earlier checkpoint (``--run.resume PATH``, e.g. past a damaged one) abandons the later
    ones: renamed aside, so that neither keep-last-K (which keeps the highest progress) nor a later
    ``--run.resume auto`` picks them over the run that continues."""
    for later in [p for p in list_checkpoints(run_dir) if progress_of(p) > progress]:
        aside = later.with_name(later.name + ".abandoned")
        later.rename(aside)
        print(f"resuming at {progress}: set {later.name} aside as {aside.name}")


def refuse_changes(saved: dict, given: dict, what: str, allowed: tuple[str, ...] = ()) -> None:
    """Raise naming every field of ``given`` that differs from the checkpoint's and may not change."""
    changed = {k for k in set(saved) | set(given) if saved.get(k) != given.get(k) and k not in allowed}
    if changed:
        listed = "; ".join(f"--{what}.{k.replace('_', '-')}: checkpoint {saved.get(k)!r} vs now {given.get(k)!r}" for k in sorted(changed))
        may = ", ".join(f"--run.{k.replace('_', '-')}" for k in CHANGEABLE_RUN_FIELDS[:9])
        raise CheckpointError(f"a resumed run keeps its configs, but the command line changes {listed}; only {may} may change")
