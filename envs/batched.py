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
  site poses, from the frame sensors ``PolytaskEnv.compile_model`` adds)
  and ``qpos`` (the gripper opening) into one row each;
* observations are built for all worlds at once from those rows;
* rewards and success: the task's reward function
  (:class:`~envs.reward_function.RewardFunction`, a pure function of ``obs``,
  ``action`` and ``init_obs``) once per group of worlds that run the task, on
  stacked arrays; no task env is built to score them.

Why not ``mujoco.rollout``: it starts every rollout from a
``mjSTATE_FULLPHYSICS`` state with a zero (or given) solver warm start and
does not hand back the warm start it ends with, so each env step would start
the constraint solver cold, where the single env carries the warm start from
step to step. On contact-rich tasks (push, pick-place) that drifts a
trajectory apart within an episode (rewards differing by whole units), and a
batched world must reproduce the single env. ``python -m
benchmarks.env_speed`` times both physics paths; over 500 MT10 worlds they
cost the same CPU time per env step.

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

from envs import layout
from envs.base import FRAME_SKIP, HAND_STEP, MAX_EPISODE_STEPS, StepState
from envs.batched_frames import SPARE_COLUMNS, FrameLayout, flat_index, frames
from envs.benchmarks import Benchmark, get_benchmark
from envs.layout import ACTION_DIM, ACTION_GRIP, ACTION_HAND, FRAME_DIM, OBS_DIM
from envs.reward_function import RewardFunction
from envs.vector import MultiTaskEnv, assign_worlds, pop_reset_mask, split_world_options, world_seeds


def default_threads() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class BatchedVectorEnv(gym.vector.VectorEnv):
    """Vector env over a benchmark split or a task list, stepped in batch (see the module docstring).

    Args:
        benchmark: a :class:`Benchmark` or its name (``"MT10"``, ``"MT1-reach"``); or None with ``tasks``.
        split: ``"train"`` or ``"test"``.
        num_envs: worlds; None or 1 gives one per task, more assigns tasks round robin.
        tasks: a list of task names to run instead of a benchmark (their seeded variations).
        world_tasks: each world's first task, instead of round robin (a share of a larger vector env).
        num_threads: physics threads; defaults to the cores this process may use.
        one_hot: append the task's one-hot code to each observation, as ``MultiTaskEnv`` does.
        env_kwargs: passed to every task env (``goal_observable``, ``dynamics``, ``render_mode`` ...).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": ["rgb_array"]}
    #: snapshots hold the physics: a restored world continues its episode
    restores_episodes = True

    def __init__(
        self,
        benchmark: Benchmark | str | None = None,
        split: str = "train",
        num_envs: int | None = None,
        *,
        tasks: Sequence[str] | None = None,
        world_tasks: Sequence[str] | None = None,
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
        self.world_tasks = assign_worlds(bench, split, num_envs, world_tasks)
        self.benchmark, self.split, self.task_names = bench, split, task_names
        self.num_envs, self.one_hot = len(self.world_tasks), one_hot
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.num_threads = default_threads() if num_threads is None else num_threads
        self.render_mode = env_kwargs.get("render_mode")
        self.worlds = [MultiTaskEnv(bench, split, task=task, one_hot=one_hot, **env_kwargs) for task in self.world_tasks]
        self._rewards = {task: RewardFunction(task) for task in task_names}
        # each task's model gives its row layout: a world's, or (a task no world starts on, which
        # a world may switch to at reset) that of a world built for the purpose
        models = {world.task: world.active.model for world in reversed(self.worlds)}
        for task in set(task_names) - set(models):
            models[task] = MultiTaskEnv(bench, split, task=task, **env_kwargs).active.model
        sensor_width = max(model.nsensordata for model in models.values()) + SPARE_COLUMNS
        self._layouts = {task: FrameLayout(models[task], self._rewards[task].task.object_sites, sensor_width) for task in task_names}

        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)
        self.single_observation_space = self.worlds[0].observation_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        n = self.num_envs
        self._obs = np.zeros((n, OBS_DIM))
        self._previous_frame = np.zeros((n, FRAME_DIM))
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
            "ctrl": np.zeros((n, max(model.nu for model in models.values()))),
            "sensors": np.zeros((n, sensor_width)),
            "qpos": np.zeros((n, max(model.nq for model in models.values()))),
        }
        self._rows["sensors"][:, sensor_width - SPARE_COLUMNS + 1 :] = np.eye(3).ravel()
        #: per-world gather indices into those rows (see ``FrameLayout``), filled by ``_adopt``
        self._index = {
            "positions": np.zeros((n, 9), dtype=np.intp),
            "matrices": np.zeros((n, 18), dtype=np.intp),
            "present": np.ones((n, FRAME_DIM)),
            "fingers": np.zeros((n, 2), dtype=np.intp),
            "hand_ctrl": np.zeros((n, 3), dtype=np.intp),
            "finger_ctrl": np.zeros((n, 2), dtype=np.intp),
        }
        self._slots: list[tuple | None] = [None] * n
        self._groups: list[tuple[int, np.ndarray]] | None = None
        self._group_init_obs: list[np.ndarray] = []
        #: ``_index`` as flat indices into the raveled rows (``frames``' gathers, the control writes)
        self._flat: dict[str, np.ndarray] = {}
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
        task_layout = self._layouts[world.task]
        for name, index in self._index.items():
            index[i] = getattr(task_layout, name)
        self._rows["ctrl"][i, : model.nu] = data.ctrl
        self._task_index[i] = world.task_id
        self._ctrl_scale[i] = HAND_STEP / (FRAME_SKIP * model.opt.timestep)
        state = env.step_state()
        self._obs[i], self._previous_frame[i], self._init_obs[i] = state.obs, state.previous_frame, state.init_obs
        self._goal[i], self._steps[i] = state.goal, state.steps
        self._goal_observable[i] = env.goal_observable
        self._groups = self._chunks = None

    def _hand_back(self, i: int) -> None:
        """Write world ``i``'s step bookkeeping into its task env (before its reset or snapshot)."""
        self.worlds[i].active.load_step_state(
            StepState(self._obs[i], self._previous_frame[i], self._init_obs[i], self._goal[i], int(self._steps[i])))

    def _task_groups(self) -> list[tuple[int, np.ndarray]]:
        """``(task id, its worlds)`` pairs, remade after any ``_adopt`` together with the flat gather
        indices and the groups' ``init_obs``."""
        if self._groups is None:
            self._groups = [(t, np.flatnonzero(self._task_index == t)) for t in np.unique(self._task_index)]
            rows, index = self._rows, self._index
            for name, width in (("positions", "sensors"), ("matrices", "sensors"), ("fingers", "qpos"), ("hand_ctrl", "ctrl"), ("finger_ctrl", "ctrl")):
                self._flat[name] = flat_index(index[name], rows[width].shape[1])
            self._flat["present"] = index["present"]
            self._group_init_obs = self._stack_init_obs(self._groups)
        return self._groups

    def _stack_init_obs(self, groups: list[tuple[int, np.ndarray]]) -> list[np.ndarray]:
        """Each group's ``init_obs``, one array per group (a lone world's as 1-d).

        A reward function computes its initial-state terms once per array it
        is given, so these are made only when the groups change, not at every step.
        """
        return [self._init_obs[idx[0]].copy() if len(idx) == 1 else self._init_obs[idx] for _, idx in groups]

    def _chunk_plan(self, skip: np.ndarray, any_skipped: bool) -> list[list[tuple]]:
        if any_skipped:  # some worlds reset this step instead: a one-off plan without them
            return [[self._slots[i] for i in chunk if not skip[i]] for chunk in self._chunk_indices()]
        if self._chunks is None:
            self._chunks = [[self._slots[i] for i in chunk] for chunk in self._chunk_indices()]
        return self._chunks

    #: fewest worlds per chunk: handing a thread less work costs more than it saves
    MIN_CHUNK = 8

    def _chunk_indices(self) -> list[np.ndarray]:
        # two chunks per thread, so a thread that drew cheap worlds picks up more
        count = max(1, min(2 * self.num_threads, self.num_envs // self.MIN_CHUNK))
        return np.array_split(np.arange(self.num_envs), count)

    @staticmethod
    def _step_chunk(chunk: list[tuple]) -> None:
        for model, data, (ctrl, data_ctrl), (data_sensors, sensors), (data_qpos, qpos) in chunk:
            data_ctrl[:] = ctrl
            mujoco.mj_step(model, data, FRAME_SKIP)
            sensors[:] = data_sensors
            qpos[:] = data_qpos

    def _simulate(self, chunks: list[list[tuple]]) -> None:
        if self.num_threads == 1 or len(chunks) == 1:
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
        Options: ``task``, ``variation`` (an index) or ``variation_seed``, lists
        with one entry per world (None keeps a world's task / draws its variation),
        ``reset_mask`` (bool array); anything else goes to every world's reset.
        """
        options = dict(options or {})
        mask = pop_reset_mask(options, self.num_envs, first_reset=self._needs_reset)
        all_options = split_world_options(options, self.num_envs)
        if isinstance(seed, (int, np.integer)):
            super().reset(seed=int(seed))
        seed = world_seeds(seed, self.num_envs)
        infos: dict[str, Any] = {}
        for i in np.flatnonzero(mask):
            world_options = all_options[i]
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
        stepping, any_resetting = ~resetting, resetting.any()
        groups, rows, flat = self._task_groups(), self._rows, self._flat
        group_init_obs = self._group_init_obs
        # every world's row is written; those resetting this step are rewritten by _adopt
        self._write_controls(rows["ctrl"].reshape(-1), actions)
        self._simulate(self._chunk_plan(resetting, any_resetting))

        frame = frames(rows["sensors"], rows["qpos"], flat)
        obs = layout.observation(frame, self._previous_frame, self._goal)
        if any_resetting:
            groups = [(t, idx[stepping[idx]]) for t, idx in groups]
            groups = [(t, idx) for t, idx in groups if len(idx)]
            # groups of one step: the resetting worlds are adopted below, which remakes them
            group_init_obs = self._stack_init_obs(groups)
        outputs = []
        for (t, idx), init_obs in zip(groups, group_init_obs):
            reward = self._rewards[self.task_names[t]]
            if len(idx) == 1:
                # a lone world takes evaluate's plain-float path, several times
                # cheaper than the numpy path on a batch of one (MT10 with one world per task)
                (world,) = idx
                outputs.append(reward(obs[world], actions[world], init_obs))
                continue
            outputs.append(reward(obs[idx], actions[idx], init_obs))  # scores the true goal, hidden or not
        rewards, infos = self._scatter(groups, outputs)
        if any_resetting:
            self._obs[stepping], self._previous_frame[stepping] = obs[stepping], frame[stepping]
        else:
            self._obs, self._previous_frame = obs, frame
        self._obs[~self._goal_observable, layout.GOAL] = 0.0
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

    def _write_controls(self, ctrl: np.ndarray, actions: np.ndarray) -> None:
        """Write clipped ``actions`` as controls into the raveled ``ctrl`` rows (hand velocity targets, both fingers)."""
        ctrl[self._flat["hand_ctrl"]] = actions[:, ACTION_HAND] * self._ctrl_scale[:, None]
        ctrl[self._flat["finger_ctrl"]] = actions[:, ACTION_GRIP, None]

    def controls(self, actions) -> np.ndarray:
        """The ``ctrl`` rows a :meth:`step` with ``actions`` writes: ``(num_envs, widest nu)``, world ``i``'s
        controls in ``[i, :nu]``. For benchmarks that step the same models with nothing else."""
        if self._needs_reset:
            raise RuntimeError("call reset() before controls()")
        self._task_groups()  # the flat indices of the current worlds
        rows = self._rows["ctrl"].copy()
        self._write_controls(rows.reshape(-1), np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0))
        return rows

    def _scatter(self, groups, outputs) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Rewards and ``info`` arrays (with their ``_key`` masks) of all worlds from per-group results.

        A lone world's results are plain floats, written at an int index (numpy's cheap scalar path).
        """
        n = self.num_envs
        rewards, values, masks = np.zeros(n), {}, {}
        for (_, idx), (reward, info) in zip(groups, outputs):
            where = idx[0] if len(idx) == 1 else idx
            rewards[where] = reward
            for key, value in info.items():  # INFO_KEYS, unless a task adds more
                if key not in values:
                    values[key], masks[key] = np.zeros(n), np.zeros(n, dtype=bool)
                values[key][where] = value
                masks[key][where] = True
        infos = {}
        for key, value in values.items():
            infos[key], infos[f"_{key}"] = value, masks[key]
        return rewards, infos

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
        for world in self.worlds:
            world.close()


def make_batched_vec(benchmark: str | Benchmark = "MT10", split: str = "train", num_envs: int | None = None, task: str | None = None, **kwargs) -> BatchedVectorEnv:
    """Batched vector env over a benchmark split (``task`` for MT1/ML1)."""
    bench = get_benchmark(benchmark, task) if isinstance(benchmark, str) else benchmark
    return BatchedVectorEnv(bench, split, num_envs, **kwargs)
