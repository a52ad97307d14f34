"""``python -m launch render``: a video of the scripted expert, or of a trained
policy from a checkpoint, on one task (gif or mp4 via imageio)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import numpy as np

from envs.registry import get_task, scripted_policy, unknown_name_error
from envs.variations import VARIATIONS_PER_TASK
from launch.errors import UsageError

#: the scene's cameras (envs/assets/scene.xml and the gripper's)
CAMERAS = ("corner", "front", "topview", "behind", "gripper/gripper")

FORMATS = (".gif", ".mp4")
#: frames kept after the first success, so the video shows the goal being held
FRAMES_AFTER_SUCCESS = 15


@dataclasses.dataclass(frozen=True)
class RenderArgs:
    """Render a task's scripted expert, or a trained policy, to a gif or mp4."""

    task: str
    """Task name (see `python -m launch list`)."""
    out: Path
    """Output file; its suffix picks the format: .gif or .mp4."""
    checkpoint: Path | None = None
    """A trained RL learner's checkpoint (or run directory); None: the task's scripted expert."""
    variation: int = 0
    """Which of the task's variations of the split to show (an index, 0-49)."""
    split: Literal["train", "test"] = "test"
    """The variations' split: the held-out test ones or the train ones."""
    max_steps: int = 200
    """Longest episode to record (the video stops shortly after the first success)."""
    fps: int = 30
    """Frames per second of the video."""
    size: int = 256
    """Width and height in pixels (a multiple of 16 suits mp4 encoders)."""
    camera: str = "corner"
    """Camera name in the scene: corner, front, topview, behind or gripper/gripper."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where a checkpoint's policy runs."""

    def __post_init__(self):
        if self.out.suffix.lower() not in FORMATS:
            raise UsageError(f"--out must end in {' or '.join(FORMATS)}, got {self.out.name!r}")
        if not 0 <= self.variation < VARIATIONS_PER_TASK:
            raise UsageError(f"--variation must be in [0, {VARIATIONS_PER_TASK}), got {self.variation}")
        if self.max_steps < 1 or self.fps < 1 or self.size < 16:
            raise UsageError("--max-steps and --fps must be positive and --size at least 16")
        if self.camera not in CAMERAS:
            raise UsageError(str(unknown_name_error("camera", self.camera, CAMERAS)))


def _task_class(name: str):
    try:
        return get_task(name)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _policy(args: RenderArgs):
    """(obs -> action for one world, what it is, whether it sees the goal): the scripted expert, or the
    checkpoint's policy for this task, shown the observations it was trained on."""
    if args.checkpoint is None:
        return scripted_policy(args.task), "scripted expert", True
    from launch.experiment import restore

    algorithm, name, _, env, path = restore(args.checkpoint, args.device, device_flag="--device")
    if not hasattr(algorithm, "policy") or env is None:
        raise UsageError(f"{name} offers no policy() to render; only learners with a task-conditioned batch policy (mtsac, sb3-sac, sb3-ppo) can be rendered")
    if env.suite != "polytask":
        raise UsageError(f"{path} was trained on {env.suite}'s environments; render shows polytask's tasks only")
    # policy() task ids index the learner's train tasks
    tasks = tuple(algorithm.tasks)
    if args.task not in tasks:
        raise UsageError(f"{path} was trained on {', '.join(tasks)}; it has no policy for {args.task!r}")
    batch_policy, task_id = algorithm.policy(), np.array([tasks.index(args.task)])
    return (lambda obs: np.asarray(batch_policy(obs[None], task_id))[0]), f"{name} policy from {path}", env.goal_shown


def render(args: RenderArgs) -> Path:
    if args.checkpoint is None:
        _task_class(args.task)  # an unknown task is reported before anything else
    policy, source, goal_shown = _policy(args)  # a checkpoint first imports the modules its run was trained with
    task_class = _task_class(args.task)
    env = task_class(render_mode="rgb_array", camera=args.camera, width=args.size, height=args.size, goal_observable=goal_shown)
    try:
        obs, _ = env.reset(options={"variation": args.variation, "split": args.split})
        frames, succeeded_at = [env.render()], None
        for step in range(args.max_steps):
            obs, _, _, _, info = env.step(policy(obs))
            frames.append(env.render())
            if succeeded_at is None and info["success"]:
                succeeded_at = step
            if succeeded_at is not None and step - succeeded_at >= FRAMES_AFTER_SUCCESS:
                break
    finally:
        env.close()
    _write_video(args.out, np.stack(frames), args.fps)
    outcome = f"success at step {succeeded_at + 1}" if succeeded_at is not None else f"no success in {args.max_steps} steps"
    print(f"wrote {args.out}: {len(frames)} frames of {args.task} by the {source} ({outcome})")
    return args.out


def _write_video(path: Path, frames: np.ndarray, fps: int) -> None:
    import imageio.v3 as iio

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        iio.imwrite(path, frames, duration=1000 / fps, loop=0)
    else:
        try:
            iio.imwrite(path, frames, fps=fps)
        except Exception as error:  # no video backend installed
            raise UsageError(f"cannot write {path.name}: {error}; install imageio-ffmpeg (pip install 'polytask[video]') or use .gif") from error
