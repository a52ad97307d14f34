"""Batched simulation: many worlds, of one task or of many, stepped per call.

:class:`BatchedVectorEnv` is a gymnasium ``VectorEnv`` over a benchmark split
or a list of tasks. Each world is a :class:`~envs.vector.MultiTaskEnv`, so
resets, the per-world ``task``/``variation`` reset options, seeds,
``info["task_id"]`` and ``get_state``/``set_state`` snapshots are those of
:class:`~envs.vector.BenchmarkVectorEnv` (the two exchange snapshots). A
step never calls a world's Python ``step``:

* physics: a thread pool runs ``mj_step(model, data, FRAME_SKIP)`` over
  chunks of worlds, each on its own ``MjModel``/``MjData`` (variations change
  model fields); ``mj_step`` releases the GIL, so chunks run in parallel in C.
  Per world the worker only writes ``ctrl`` and copies ``sensordata`` (the
  site poses, from the frame sensors :meth:`PolytaskEnv.compile_model` adds)
  and ``qpos`` (the gripper opening) into one row each;
* observations are built for all worlds at once from those rows;
* rewards and success: the task's ``evaluate`` once per group of worlds that
  run the task, on stacked arrays.

Why not ``mujoco.rollout``: it starts every rollout from a
``mjSTATE_FULLPHYSICS`` state with a zero (or given) solver warm start and
does not hand back the warm start it ends with, so each env step would start
the constraint solver cold, where the single env carries the warm start from
step to step. On contact-rich tasks (push, pick-place) that drifts a
trajectory apart within an episode (rewards differing by whole units), and a
batched world must reproduce the single env. ``benchmarks/env_speed.py``
times both physics paths.

Autoreset mode is ``NEXT_STEP``, as in gymnasium's ``SyncVectorEnv``: a world
whose episode ended is reset on the following ``step`` instead of being
stepped (reward 0, terminated and truncated False, the reset's ``info``).
The final observation of an episode is the one returned with
``truncated=True``; nothing is overwritten before the caller sees it.
"""

from __future__ import annotations

import concurrent.futures
import os
from typing import Any, Sequence

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from envs.base import ACTION_DIM, FRAME_SKIP, HAND_STEP, MAX_EPISODE_STEPS, OBS_DIM, PolytaskEnv
from envs.benchmarks import Benchmark, get_benchmark
from envs.registry import get_task
from envs.vector import MultiTaskEnv


def default_threads() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _quat_branch(m: np.ndarray, largest: int) -> np.ndarray:
    """``mju_mat2Quat``'s arithmetic for rows whose quaternion component ``largest`` is the largest."""
    m0, m1, m2, m3, m4, m5, m6, m7, m8 = m.T
    quat = np.empty((len(m), 4))
    if largest == 0:
        s = 0.5 * np.sqrt(1 + m0 + m4 + m8)
        pairs = ((1, m7 - m5), (2, m2 - m6), (3, m3 - m1))
    elif largest == 1:
        s = 0.5 * np.sqrt(1 + m0 - m4 - m8)
        pairs = ((0, m7 - m5), (2, m1 + m3), (3, m2 + m6))
    elif largest == 2:
        s = 0.5 * np.sqrt(1 - m0 + m4 - m8)
        pairs = ((0, m2 - m6), (1, m1 + m3), (3, m5 + m7))
    else:
        s = 0.5 * np.sqrt(1 - m0 - m4 + m8)
        pairs = ((0, m3 - m1), (1, m2 + m6), (2, m5 + m7))
    quat[:, largest] = s
    for column, difference in pairs:
        quat[:, column] = 0.25 * difference / s
    return quat


def mat_to_quat(mat: np.ndarray) -> np.ndarray:
    """``mju_mat2Quat`` over a batch of row-major 3x3 matrices, shape (n, 9) -> (n, 4).

    Written to give the same bits as MuJoCo's (the single env calls it): the
    same branch on the largest component, the same operation order and the
    same final normalization.
    """
    m = np.asarray(mat, dtype=np.float64).reshape(-1, 9)
    m0, m4, m8 = m[:, 0], m[:, 4], m[:, 8]
    first = m0 + m4 + m8 > 0
    if first.all():  # the common case: one branch, no masks
        quat = _quat_branch(m, 0)
    else:
        second = ~first & (m0 > m4) & (m0 > m8)
        third = ~first & ~second & (m4 > m8)
        quat = np.empty((len(m), 4))
        for largest, rows in enumerate((first, second, third, ~(first | second | third))):
            if rows.any():
                quat[rows] = _quat_branch(m[rows], largest)
    q0, q1, q2, q3 = quat.T
    norm = np.sqrt(q0 * q0 + q1 * q1 + q2 * q2 + q3 * q3)
    tiny = norm < mujoco.mjMINVAL
    rescale = ~tiny & (np.abs(norm - 1) > mujoco.mjMINVAL)
    if rescale.all():
        quat *= (1 / norm)[:, None]
    elif rescale.any():
        quat[rescale] *= (1 / norm[rescale])[:, None]
    if tiny.any():
        quat[tiny] = (1.0, 0.0, 0.0, 0.0)
    return quat


class _Layout:
    """Where one task's frame lives in ``sensordata``/``qpos`` and its controls in ``ctrl``."""

    def __init__(self, env: PolytaskEnv):
        model = env.model

        def adr(name: str) -> int:
            return int(model.sensor_adr[model.sensor(name).id])

        self.nsensordata, self.nu, self.nq = model.nsensordata, model.nu, model.nq
        # frame columns filled by positions, and the sensordata columns they come from
        objects = range(len(env.object_sites))
        self.position_columns = np.array([0, 1, 2, *(4 + 7 * k + j for k in objects for j in range(3))])
        self.position_sources = np.array(
            [adr("frame/tcp") + j for j in range(3)] + [adr(f"frame/object{k}_pos") + j for k in objects for j in range(3)]
        )
        # per object, xmat in row-major order from the three axis sensors (its columns)
        axes = [[adr(f"frame/object{k}_{axis}axis") for axis in "xyz"] for k in objects]
        self.matrix_sources = np.array([[axes[k][column] + row for row in range(3) for column in range(3)] for k in objects], dtype=int)
        self.quat_columns = np.array([4 + 7 * k + 3 + j for k in objects for j in range(4)], dtype=int)
        self.fingers = env._ids["finger_qpos"]
        self.hand_ctrl = env._ids["hand_ctrl"]
        self.finger_ctrl = env._ids["finger_ctrl"]

    def frames(self, sensors: np.ndarray, qpos: np.ndarray) -> np.ndarray:
        """The 18-number frames (``PolytaskEnv._frame``) of a batch of sensor and qpos rows."""
        n = len(sensors)
        frame = np.zeros((n, 18))
        frame[:, self.position_columns] = sensors[:, self.position_sources]
        left, right = self.fingers
        frame[:, 3] = np.clip((qpos[:, left] + qpos[:, right]) / 0.08, 0.0, 1.0)
        if len(self.matrix_sources):
            matrices = sensors[:, self.matrix_sources].reshape(-1, 9)  # (world, object) rows
            frame[:, self.quat_columns] = mat_to_quat(matrices).reshape(n, -1)
        return frame


class BatchedVectorEnv(gym.vector.VectorEnv):
    """Vector env over a benchmark split or a task list, stepped in batch (see the module docstring).

    Args:
        benchmark: a :class:`Benchmark` or its name (``"MT10"``, ``"MT1-reach"``); or None with ``tasks``.
        split: ``"train"`` or ``"test"``.
        num_envs: worlds; None or 1 gives one per task, more assigns tasks round robin.
        tasks: a list of task names to run instead of a benchmark (their seeded variations).
        num_threads: physics threads; defaults to the cores this process may use.
        one_hot: append the task's one-hot code to each observation, as ``MultiTaskEnv`` does.
        env_kwargs: passed to every task env (``goal_observable``, ``dynamics``, ``render_mode`` ...).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": ["rgb_array"]}

    def __init__(
        self,
        benchmark: Benchmark | str | None = None,
        split: str = "train",
        num_envs: int | None = None,
        *,
        tasks: Sequence[str] | None = None,
        num_threads: int | None = None,
        one_hot: bool = False,
        **env_kwargs: Any,
    ):
        if (benchmark is None) == (tasks is None):
            raise ValueError("pass either a benchmark (e.g. 'MT10') or tasks=[...], not both and not neither")
        if tasks is not None:
            tasks = tuple(dict.fromkeys(tasks))
            if not tasks:
                raise ValueError("tasks must name at least one registered task")
            benchmark = Benchmark("tasks-" + "+".join(tasks), tasks, tasks)
        bench = get_benchmark(benchmark) if isinstance(benchmark, str) else benchmark
        task_names = bench.tasks(split)
        num_envs = len(task_names) if num_envs in (None, 1) else num_envs
        if not isinstance(num_envs, (int, np.integer)) or num_envs < len(task_names):
            raise ValueError(f"{bench.name} {split} has {len(task_names)} tasks: num_envs must be 1 (one world per task) or >= {len(task_names)}, got {num_envs!r}")
        self.benchmark, self.split, self.task_names = bench, split, task_names
        self.num_envs, self.one_hot = int(num_envs), one_hot
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.num_threads = default_threads() if num_threads is None else num_threads
        self.render_mode = env_kwargs.get("render_mode")
        self.world_tasks = [task_names[i % len(task_names)] for i in range(self.num_envs)]
        self.worlds = [MultiTaskEnv(bench, split, task=task, **env_kwargs) for task in self.world_tasks]
        # evaluate reads only obs, action, init_obs and class constants, so one
        # instance per task, given a group's stacked init_obs, serves all its worlds
        evaluator_kwargs = {k: v for k, v in env_kwargs.items() if k != "render_mode"}
        self._evaluators = {task: get_task(task)(**evaluator_kwargs) for task in task_names}
        self._layouts = {task: _Layout(env) for task, env in self._evaluators.items()}

        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)
        space = self.worlds[0].observation_space
        if one_hot:
            n = len(task_names)
            space = gym.spaces.Box(np.concatenate([space.low, np.zeros(n)]), np.concatenate([space.high, np.ones(n)]), (OBS_DIM + n,), np.float64)
        self.single_observation_space = space
        self.observation_space = batch_space(space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        n = self.num_envs
        self._obs = np.zeros((n, OBS_DIM))
        self._previous_frame = np.zeros((n, 18))
        self._init_obs = np.zeros((n, OBS_DIM))
        self._steps = np.zeros(n, dtype=np.int64)
        self._task_index = np.zeros(n, dtype=np.int64)
        self._ctrl_scale = np.zeros(n)
        self._autoreset = np.zeros(n, dtype=bool)
        self._terminations = np.zeros(n, dtype=bool)
        self._truncations = np.zeros(n, dtype=bool)
        self._goal = np.zeros((n, 3))
        self._goal_observable = np.ones(n, dtype=bool)
        #: per-world rows the physics workers read (ctrl) and fill (sensors, qpos)
        self._rows = {
            name: np.zeros((n, max(getattr(layout, width) for layout in self._layouts.values())))
            for name, width in (("ctrl", "nu"), ("sensors", "nsensordata"), ("qpos", "nq"))
        }
        self._slots: list[tuple | None] = [None] * n
        self._groups: list[tuple[int, np.ndarray]] | None = None
        self._chunks: list[list[tuple]] | None = None
        self._needs_reset = True

    @property
    def num_threads(self) -> int:
        """Physics threads; may be changed between steps."""
        return self._num_threads

    @num_threads.setter
    def num_threads(self, value: int) -> None:
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"num_threads must be a positive int, got {value!r}")
        self._shutdown_pool()
        self._num_threads = int(value)
        self._chunks = None

    def _shutdown_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # ------------------------------------------------------------ worlds
    def _slot(self, i: int, model: mujoco.MjModel, data: mujoco.MjData) -> tuple:
        """What a physics worker needs for world ``i``: model, data, and (source, destination) pairs.

        The ``MjData`` array views are made once here: each attribute access
        builds a new numpy view, which would double the per-world cost of a step.
        """
        rows = self._rows
        return (
            model,
            data,
            (rows["ctrl"][i, : model.nu], data.ctrl),
            (data.sensordata, rows["sensors"][i, : model.nsensordata]),
            (data.qpos, rows["qpos"][i, : model.nq]),
        )

    def _adopt(self, i: int) -> None:
        """Take world ``i``'s state (after a reset or restore) into the batch arrays."""
        world = self.worlds[i]
        env = world.active
        model, data = env.model, env.data
        self._slots[i] = self._slot(i, model, data)
        self._rows["ctrl"][i, : model.nu] = data.ctrl
        self._task_index[i] = world.task_id
        self._ctrl_scale[i] = HAND_STEP / (FRAME_SKIP * model.opt.timestep)
        self._obs[i] = env._last_obs
        self._previous_frame[i] = env._previous_frame
        self._init_obs[i] = env.init_obs
        self._goal[i] = env.goal
        self._goal_observable[i] = env.goal_observable
        self._steps[i] = env._steps
        self._groups = self._chunks = None

    def _hand_back(self, i: int) -> None:
        """Write world ``i``'s step bookkeeping into its task env (before its reset or snapshot)."""
        env = self.worlds[i].active
        env._previous_frame = self._previous_frame[i].copy()
        env._last_obs = self._obs[i].copy()
        env._steps = int(self._steps[i])

    def _task_groups(self) -> list[tuple[int, np.ndarray]]:
        if self._groups is None:
            self._groups = [(t, np.flatnonzero(self._task_index == t)) for t in np.unique(self._task_index)]
        return self._groups

    def _chunk_plan(self, skip: np.ndarray) -> list[list[tuple]]:
        if skip.any():  # some worlds reset this step instead: a one-off plan without them
            return [[self._slots[i] for i in chunk if not skip[i]] for chunk in self._chunk_indices()]
        if self._chunks is None:
            self._chunks = [[self._slots[i] for i in chunk] for chunk in self._chunk_indices()]
        return self._chunks

    def _chunk_indices(self) -> list[np.ndarray]:
        # two chunks per thread so a thread that drew cheap worlds picks up more
        count = min(self.num_envs, 2 * self.num_threads if self.num_threads > 1 else 1)
        return np.array_split(np.arange(self.num_envs), count)

    @staticmethod
    def _step_chunk(chunk: list[tuple]) -> None:
        for model, data, (ctrl, data_ctrl), (data_sensors, sensors), (data_qpos, qpos) in chunk:
            data_ctrl[:] = ctrl
            mujoco.mj_step(model, data, FRAME_SKIP)
            sensors[:] = data_sensors
            qpos[:] = data_qpos

    def _simulate(self, chunks: list[list[tuple]]) -> None:
        if self.num_threads == 1:
            for chunk in chunks:
                self._step_chunk(chunk)
            return
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(self.num_threads, thread_name_prefix="polytask-physics")
        for _ in self._pool.map(self._step_chunk, chunks):  # re-raises a worker's error
            pass

    # ---------------------------------------------------------- gym API
    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None):
        """Reset every world, or those in ``options["reset_mask"]``.

        ``seed``: an int (world ``i`` gets ``seed + i``) or one seed per world.
        Options: ``task`` and ``variation``, lists with one entry per world
        (None keeps a world's task / draws its variation from the pool),
        ``reset_mask`` (bool array); anything else goes to every world's reset.
        """
        options = dict(options or {})
        per_world = {key: options.pop(key) for key in ("task", "variation") if key in options}
        for key, values in per_world.items():
            if not isinstance(values, (list, tuple, np.ndarray)) or len(values) != self.num_envs:
                raise ValueError(f"options[{key!r}] needs one entry per world ({self.num_envs}), got {values!r}")
        mask = options.pop("reset_mask", None)
        if mask is None:
            mask = np.ones(self.num_envs, dtype=bool)
        elif not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (self.num_envs,) or not mask.any():
            raise ValueError(f"options['reset_mask'] must be a bool numpy array of shape ({self.num_envs},) with a True entry, got {mask!r}")
        if seed is None:
            seed = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)):
            super().reset(seed=int(seed))
            seed = [int(seed) + i for i in range(self.num_envs)]
        elif len(seed) != self.num_envs:
            raise ValueError(f"seed must be an int or one seed per world ({self.num_envs}), got {len(seed)} seeds")
        infos: dict[str, Any] = {}
        for i in np.flatnonzero(mask):
            world_options = dict(options)
            if per_world.get("task") is not None and per_world["task"][i] is not None:
                world_options["task"] = per_world["task"][i]
            if "variation" in per_world:
                world_options["variation"] = per_world["variation"][i]
            if not self._needs_reset:
                self._hand_back(i)
            _, info = self.worlds[i].reset(seed=seed[i], options=world_options)
            self._adopt(i)
            infos = self._add_info(infos, info, i)
        self._needs_reset = False
        self._autoreset[mask] = self._terminations[mask] = self._truncations[mask] = False
        return self._observations(), infos

    def step(self, actions):
        if self._needs_reset:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (self.num_envs, ACTION_DIM):
            raise ValueError(f"actions must have shape ({self.num_envs}, {ACTION_DIM}), got {actions.shape}")
        if not np.all(np.isfinite(actions)):
            raise ValueError(f"actions must be finite; non-finite rows: {np.flatnonzero(~np.isfinite(actions).all(axis=1)).tolist()}")
        actions = np.clip(actions, -1.0, 1.0)
        resetting = self._autoreset.copy()
        stepping = ~resetting
        groups = self._task_groups()
        if resetting.any():
            groups = [(t, idx[stepping[idx]]) for t, idx in groups]
        ctrl = self._rows["ctrl"]
        for t, idx in groups:
            layout = self._layouts[self.task_names[t]]
            rows = idx[:, None]
            ctrl[rows, layout.hand_ctrl] = actions[idx, :3] * self._ctrl_scale[idx, None]
            ctrl[rows, layout.finger_ctrl] = actions[idx, 3:4]
        self._simulate(self._chunk_plan(resetting))

        rewards = np.zeros(self.num_envs)
        infos: dict[str, Any] = {}
        for t, idx in groups:
            if not len(idx):
                continue
            task = self.task_names[t]
            frame = self._layouts[task].frames(self._rows["sensors"][idx], self._rows["qpos"][idx])
            obs = np.concatenate([frame, self._previous_frame[idx], self._goal[idx]], axis=1)
            evaluator = self._evaluators[task]
            evaluator.init_obs = self._init_obs[idx]
            reward, info = evaluator.evaluate(obs, actions[idx])  # scores the true goal, hidden or not
            obs[~self._goal_observable[idx], 36:39] = 0.0
            rewards[idx] = reward
            for key, value in info.items():
                if key not in infos:
                    infos[key], infos[f"_{key}"] = np.zeros(self.num_envs), np.zeros(self.num_envs, dtype=bool)
                infos[key][idx] = value
                infos[f"_{key}"][idx] = True
            self._obs[idx] = obs
            self._previous_frame[idx] = frame
        self._steps[stepping] += 1
        self._terminations[:] = False
        self._truncations[:] = stepping & (self._steps >= MAX_EPISODE_STEPS)

        for i in np.flatnonzero(resetting):
            self._hand_back(i)
            _, info = self.worlds[i].reset()
            self._adopt(i)
            infos = self._add_info(infos, info, i)
        infos["task_id"], infos["_task_id"] = self._task_index.copy(), np.ones(self.num_envs, dtype=bool)
        self._autoreset = self._terminations | self._truncations
        return self._observations(), rewards, self._terminations.copy(), self._truncations.copy(), infos

    def _observations(self) -> np.ndarray:
        if not self.one_hot:
            return self._obs.copy()
        code = np.zeros((self.num_envs, len(self.task_names)))
        code[np.arange(self.num_envs), self._task_index] = 1.0
        return np.concatenate([self._obs, code], axis=1)

    # ------------------------------------------------------------ snapshots
    def get_state(self) -> dict[str, Any]:
        """Every world's snapshot plus the autoreset bookkeeping (``BenchmarkVectorEnv``'s format)."""
        if self._needs_reset:
            raise RuntimeError("call reset() before get_state()")
        for i in range(self.num_envs):
            self._hand_back(i)
        return {
            "worlds": [world.get_state() for world in self.worlds],
            "autoreset": self._autoreset.copy(),
            "terminations": self._terminations.copy(),
            "truncations": self._truncations.copy(),
        }

    def set_state(self, state: dict[str, Any]) -> np.ndarray:
        """Restore :meth:`get_state` (of this env or a ``BenchmarkVectorEnv``); returns the observations."""
        if len(state["worlds"]) != self.num_envs:
            raise ValueError(f"snapshot holds {len(state['worlds'])} worlds, this vector env has {self.num_envs}")
        for i, (world, world_state) in enumerate(zip(self.worlds, state["worlds"])):
            world.set_state(world_state)
            self._adopt(i)
        self._autoreset = np.array(state["autoreset"], dtype=bool)
        self._terminations = np.array(state["terminations"], dtype=bool)
        self._truncations = np.array(state["truncations"], dtype=bool)
        self._needs_reset = False
        return self._observations()

    @property
    def tasks_now(self) -> list[str]:
        """The task each world is running."""
        return [world.task for world in self.worlds]

    def render(self):
        """Each world's frame (``render_mode="rgb_array"``), as ``SyncVectorEnv`` returns them."""
        return tuple(world.render() for world in self.worlds)

    def close_extras(self, **kwargs: Any) -> None:
        self._shutdown_pool()
        for env in [*self.worlds, *self._evaluators.values()]:
            env.close()


def make_batched_vec(benchmark: str | Benchmark = "MT10", split: str = "train", num_envs: int | None = None, task: str | None = None, **kwargs) -> BatchedVectorEnv:
    """Batched vector env over a benchmark split (``task`` for MT1/ML1)."""
    bench = get_benchmark(benchmark, task) if isinstance(benchmark, str) else benchmark
    return BatchedVectorEnv(bench, split, num_envs, **kwargs)
