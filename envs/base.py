"""The unified manipulation environment every polytask task subclasses.

The contract (see the README, "Observation and action"):

* action ``Box(-1, 1, (4,), float32)``: hand displacement dx, dy, dz, scaled to
  at most ``HAND_STEP`` metres per env step, and gripper effort (-1 open, +1
  closed);
* observation ``Box((39,), float64)`` in Meta-World's layout: hand xyz, gripper
  opening, object-1 xyz + quaternion (w, x, y, z), object-2 likewise (zeros
  when absent), the previous frame of those 18 numbers, goal xyz (zeros when
  hidden). The declared bounds hold: loose objects are kept on the table by
  an invisible box and the hand by its joint limits;
* 500 steps per episode, ending in truncation only; frame skip 5 at 2.5 ms;
* reward in [0, 10] from :meth:`PolytaskEnv.evaluate` with its terms and a
  0/1 ``success`` in ``info``.

A task is a subclass that implements ``build``, ``reset_task``, ``evaluate``
and ``expert`` (its scripted policy). ``evaluate`` must be a pure function of
``obs``, ``action``, ``self.init_obs`` and class constants, written with numpy
broadcasting over leading axes: the batched simulator calls it on a whole
group of worlds at once. The single env calls it once per step with 1-d
arrays, where numpy's per-call cost dominates: terms of the initial state go
through :meth:`PolytaskEnv.from_init` (computed once per episode), and the
helpers in ``envs.rewards`` and ``envs.tasks._common`` (``distance``,
``select``, ``component``, ``info``, ...) take plain-float paths there.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np

from envs import dynamics as dynamics_variation
from envs import layout, world
from envs.dynamics import DynamicsVariation
from envs.rendering import close_at_exit
from envs.layout import ACTION_DIM, GRIPPER, OBS_DIM, OBS_HIGH, OBS_LOW, object_start
from envs.variations import VARIATION_OPTIONS, VARIATIONS_PER_TASK, check_index, check_seed, parse_variation_options, variation_seeds

MAX_EPISODE_STEPS = 500
FRAME_SKIP = 5
#: metres the hand target moves per env step at |action| = 1 (Meta-World: 1 cm)
HAND_STEP = 0.01
HAND_INIT = np.array([0.0, 0.6, 0.2])
#: the two finger joints' positions sum to this when the gripper is fully open (opening 1)
FINGERS_OPEN = 0.08

#: the info keys every task reports, so vector envs see one schema
INFO_KEYS = (
    "success",
    "near_object",
    "grasp_success",
    "grasp_reward",
    "in_place_reward",
    "obj_to_target",
    "unscaled_reward",
)


def model_indices(model: mujoco.MjModel, object_sites: tuple[str, ...]) -> dict[str, Any]:
    """Where a task model keeps what every step reads and writes: the hand's joints,
    actuators and controls, the fingers, the observed sites, and the bodies, geoms
    and dofs that dynamics variation scales (everything but the gripper)."""
    m = model
    act = {n: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, f"gripper/{n}") for n in "xyz"}
    ids = {
        "hand_qpos": np.array([m.jnt_qposadr[m.joint(f"gripper/{n}").id] for n in "xyz"]),
        "hand_act": np.array([m.actuator_actadr[act[n]] for n in "xyz"]),
        "hand_ctrl": np.array([act[n] for n in "xyz"]),
        "finger_ctrl": np.array([m.actuator(f"gripper/{n}").id for n in ("left", "right")]),
        "finger_qpos": np.array([m.jnt_qposadr[m.joint(f"gripper/{n}").id] for n in ("left", "right")]),
        "tcp": m.site("gripper/tcp").id,
        "goal": m.site("goal").id,
        "objects": [m.site(name).id for name in object_sites],
    }
    gripper_bodies = {m.body(f"gripper/{n}").id for n in ("hand", "left_finger", "right_finger")}
    ids["object_bodies"] = np.array([b for b in range(1, m.nbody) if b not in gripper_bodies and m.body_mass[b] > 0])
    ids["object_geoms"] = np.array([g for g in range(m.ngeom) if m.geom_bodyid[g] not in gripper_bodies])
    ids["object_dofs"] = np.array([d for d in range(m.nv) if m.dof_bodyid[d] not in gripper_bodies], dtype=int)
    return ids


@dataclasses.dataclass
class StepState:
    """The per-episode bookkeeping a step reads and writes beside the physics
    (``MjData``): what the batched simulator takes over from a world after its
    reset and hands back before the next one."""

    obs: np.ndarray  #: the last observation, as the agent saw it (goal hidden or not)
    previous_frame: np.ndarray  #: the frame the next observation carries as its previous one
    init_obs: np.ndarray  #: the episode's first observation, goal included (``evaluate``'s reference)
    goal: np.ndarray
    steps: int  #: env steps taken in this episode


class PolytaskEnv(gym.Env):
    """Base class of every polytask task (see the module docstring)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 80}

    #: registered name, e.g. "pick-place"; set by subclasses
    name: ClassVar[str] = ""
    #: the version in "polytask/<name>-v<version>"; bump when reward or dynamics change
    version: ClassVar[int] = 0
    #: site names whose pose fills obs[4:11] and obs[11:18] (at most two)
    object_sites: ClassVar[tuple[str, ...]] = ()
    #: where the hand starts every episode
    hand_init: ClassVar[tuple[float, float, float]] = tuple(HAND_INIT)
    #: the success test in words, with its threshold (shown in docs and `launch list`)
    success_description: ClassVar[str] = ""

    def __init__(
        self,
        render_mode: str | None = None,
        camera: str = "corner",
        width: int = 480,
        height: int = 480,
        goal_observable: bool = True,
        dynamics: DynamicsVariation | None = None,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.render_mode = render_mode
        self.goal_observable = goal_observable
        self.dynamics = dynamics
        self.model = self.compile_model()
        self.data = mujoco.MjData(self.model)
        if len(self.object_sites) > layout.MAX_OBJECTS:
            raise ValueError(f"{type(self).__name__}.object_sites names at most {layout.MAX_OBJECTS} sites, got {self.object_sites}")
        self._ids = model_indices(self.model, self.object_sites)
        self._cache_views()
        names = [self.model.camera(i).name for i in range(self.model.ncam)]
        if camera not in names:
            raise ValueError(f"unknown camera {camera!r}; this task has: {', '.join(names)}")
        self.camera, self.width, self.height = camera, width, height
        self._renderer: mujoco.Renderer | None = None
        self._nominal = dynamics_variation.nominal(self.model)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)
        self.observation_space = gym.spaces.Box(OBS_LOW.copy(), OBS_HIGH.copy(), (OBS_DIM,), np.float64)
        self.goal = np.zeros(3)
        self.init_obs = np.zeros(OBS_DIM)
        self._previous_frame = np.zeros(layout.FRAME_DIM)
        self._last_obs = np.zeros(OBS_DIM)
        self._steps = 0
        #: the pinned variation: (index or None for a raw seed, seed), or None to draw from np_random
        self._variation: tuple[int | None, int] | None = None

    # ------------------------------------------------------------------ model
    @classmethod
    def build(cls, spec: mujoco.MjSpec) -> None:
        """Add this task's objects to ``spec`` (the scene with the gripper)."""
        raise NotImplementedError

    @classmethod
    def compile_model(cls) -> mujoco.MjModel:
        spec = world.base_spec()
        cls.build(spec)
        world.add_frame_sensors(spec, cls.object_sites)
        return spec.compile()


    # ------------------------------------------------------- task interface
    def reset_task(self, rng: np.random.Generator) -> None:
        """Draw this episode's object poses and goal (set ``self.goal``) from ``rng``."""
        raise NotImplementedError

    def evaluate(self, obs: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Reward in [0, 10] and the ``INFO_KEYS`` terms; broadcasts over leading axes."""
        raise NotImplementedError

    @staticmethod
    def expert(obs: np.ndarray) -> np.ndarray:
        """The scripted policy: a 4-d action in [-1, 1] from one observation."""
        raise NotImplementedError

    # ------------------------------------------------- initial-state terms
    @property
    def init_obs(self) -> np.ndarray:
        """The episode's first observation, goal included: ``evaluate``'s reference.

        Assign it whole (never write into it): assignment forgets the terms
        :meth:`from_init` remembered from the previous one.
        """
        return self._init_obs

    @init_obs.setter
    def init_obs(self, value: np.ndarray) -> None:
        self._init_obs = value
        self._from_init: dict = {}

    def from_init(self, compute):
        """``compute(self.init_obs)``, computed once per assignment of ``init_obs``.

        ``evaluate`` scores progress against the initial state (initial
        distances, the goal a start pose implies) at every step; this keeps it
        a pure function of ``init_obs`` without recomputing those terms each
        step. ``compute`` must depend on its argument and constants alone, be
        the same function object at every call (a module-level function or a
        static method), and its result must not be modified.
        """
        cache = self._from_init
        value = cache.get(compute)
        if value is None:
            value = cache[compute] = compute(self._init_obs)
        return value

    # -------------------------------------------------------------- helpers
    def set_free_pose(self, joint: str, pos, quat=(1.0, 0.0, 0.0, 0.0)) -> None:
        """Place a free-jointed object at ``pos`` with orientation ``quat``, at rest."""
        j = self.model.joint(joint)
        adr, dof = self.model.jnt_qposadr[j.id], self.model.jnt_dofadr[j.id]
        self.data.qpos[adr : adr + 3] = pos
        self.data.qpos[adr + 3 : adr + 7] = quat
        self.data.qvel[dof : dof + 6] = 0.0

    def set_joint(self, joint: str, value: float) -> None:
        self.data.qpos[self.model.jnt_qposadr[self.model.joint(joint).id]] = value

    def set_body_pos(self, body: str, pos) -> None:
        """Move a fixed (jointless) body, e.g. a drawer cabinet; model-side."""
        self.model.body_pos[self.model.body(body).id] = pos

    def site_pos(self, site: str) -> np.ndarray:
        return self.data.site(site).xpos.copy()

    # ------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode.

        Options choose the variation (``envs.variations``): ``{"variation": i}``
        pins the episode to the ``i``-th of the task's variations of
        ``"split"`` (``"train"`` unless given), ``{"variation_seed": s}`` to
        the raw seed ``s``; either set to None returns to drawing from
        ``self.np_random``. Without them, the last pinned choice is kept.
        """
        super().reset(seed=seed)
        chosen = parse_variation_options(options or {}, VARIATION_OPTIONS)
        if chosen.get("variation") is not None:
            split = chosen.get("split", "train")
            index = check_index(chosen["variation"], VARIATIONS_PER_TASK, f"{self.name}'s {split} split")
            self._variation = (index, variation_seeds(self.name, split)[index])
        elif chosen.get("variation_seed") is not None:
            self._variation = (None, check_seed(chosen["variation_seed"]))
        elif "variation" in chosen or "variation_seed" in chosen:
            self._variation = None
        elif "split" in chosen:
            raise ValueError("reset option 'split' says whose variation 'variation' indexes; pass it with 'variation'")
        rng = self.np_random if self._variation is None else np.random.default_rng(self._variation[1])
        mujoco.mj_resetData(self.model, self.data)
        ids = self._ids
        self.data.qpos[ids["hand_qpos"]] = self.hand_init
        self.data.act[ids["hand_act"]] = self.hand_init
        self.data.qpos[ids["finger_qpos"]] = 0.04
        self.data.ctrl[ids["finger_ctrl"]] = -1.0
        if self.dynamics is not None:
            dynamics_variation.apply(self.dynamics, self.model, self._nominal, ids, rng)
        self.reset_task(rng)
        self.goal = np.asarray(self.goal, dtype=np.float64).copy()
        self.model.site_pos[ids["goal"]] = self.goal
        mujoco.mj_forward(self.model, self.data)
        frame = self._frame()
        self._previous_frame = frame
        obs = self._observation(frame)
        self.init_obs = obs.copy()
        self._hide_goal(obs)
        self._last_obs = obs.copy()
        self._steps = 0
        index, variation_seed = self._variation or (None, None)
        return obs, {"variation": index, "variation_seed": variation_seed}

    def step(self, action):
        # Per-step Python is kept to scalar work on cached views: for these small
        # models it costs as much as the physics (see benchmarks/env_speed.py).
        action = np.array(action, dtype=np.float64)
        if action.shape != (ACTION_DIM,):
            raise ValueError(f"action must have shape ({ACTION_DIM},), got {action.shape}")
        values = action.tolist()
        if not all(map(math.isfinite, values)):
            raise ValueError(f"action must be finite, got {action}")
        if min(values) < -1.0 or max(values) > 1.0:
            values = [min(max(v, -1.0), 1.0) for v in values]
            action[:] = values
        dx, dy, dz, grip = values
        # ctrl is the hand target's velocity; one env step lasts FRAME_SKIP * timestep
        scale, ctrl, (cx, cy, cz), (left, right) = self._ctrl_scale, self._ctrl, self._hand_ctrl, self._finger_ctrl
        ctrl[cx], ctrl[cy], ctrl[cz] = dx * scale, dy * scale, dz * scale
        ctrl[left] = ctrl[right] = grip
        mujoco.mj_step(self.model, self.data, FRAME_SKIP)  # positional: keyword parsing costs more
        frame = self._frame()
        obs = self._observation(frame)
        self._previous_frame = frame
        # the reward sees the goal even when the agent does not
        reward, info = self.evaluate(obs, action)
        reward = float(reward)
        for value in info.values():
            if type(value) is not float:  # a task may return arrays or numpy scalars: make all floats
                info = {key: float(value) for key, value in info.items()}
                break
        self._hide_goal(obs)
        self._last_obs = obs.copy()
        self._steps += 1
        return obs, reward, False, self._steps >= MAX_EPISODE_STEPS, info

    # --------------------------------------------------------- observation
    def _cache_views(self) -> None:
        """Views of the ``MjData`` arrays and plain-int indices that every step reads."""
        d, ids = self.data, self._ids
        self._ctrl, self._qpos = d.ctrl, d.qpos
        self._hand_ctrl = tuple(int(i) for i in ids["hand_ctrl"])
        self._finger_ctrl = tuple(int(i) for i in ids["finger_ctrl"])
        self._finger_qpos = tuple(int(i) for i in ids["finger_qpos"])
        self._ctrl_scale = HAND_STEP / (FRAME_SKIP * self.model.opt.timestep)
        # one gather copies the TCP and object positions into their frame slots
        sites = [int(ids["tcp"]), *(int(site) for site in ids["objects"])]
        starts = [layout.HAND.start, *(object_start(k) for k in range(len(ids["objects"])))]
        self._site_xpos_flat = d.site_xpos.reshape(-1)  # a view: MjData's arrays never move
        self._position_src = np.array([3 * site + axis for site in sites for axis in range(3)])
        self._position_dst = np.array([start + axis for start in starts for axis in range(3)])
        # object quaternions are written into a fixed buffer, then scattered in one go
        self._quats = np.zeros((len(ids["objects"]), 4))
        self._quat_views = [(self._quats[k], d.site_xmat[int(site)]) for k, site in enumerate(ids["objects"])]
        self._quat_dst = np.array([object_start(k) + 3 + i for k in range(len(ids["objects"])) for i in range(4)], dtype=int)
        self._quats_flat = self._quats.reshape(-1)

    def __setstate__(self, state: dict) -> None:
        # a copied or unpickled env must read its own MjData, not views of the original's
        self.__dict__.update(state)
        self._cache_views()

    def _frame(self) -> np.ndarray:
        """The 18 numbers of one frame: hand, gripper opening, two object poses."""
        qpos = self._qpos
        left, right = self._finger_qpos
        frame = np.zeros(layout.FRAME_DIM)
        frame[self._position_dst] = self._site_xpos_flat[self._position_src]
        frame[GRIPPER] = min(max((qpos[left] + qpos[right]) / FINGERS_OPEN, 0.0), 1.0)
        if self._quat_views:
            for quat, xmat in self._quat_views:
                mujoco.mju_mat2Quat(quat, xmat)
            frame[self._quat_dst] = self._quats_flat
        return frame

    def _observation(self, frame: np.ndarray) -> np.ndarray:
        """The full observation, goal included: what ``evaluate`` scores."""
        return layout.observation(frame, self._previous_frame, self.goal)

    def _hide_goal(self, obs: np.ndarray) -> None:
        """Turn a full observation into what the agent sees: the goal zeroed when hidden (in place)."""
        if not self.goal_observable:
            layout.hide_goal(obs)

    # ------------------------------------------------------------ step state
    def step_state(self) -> StepState:
        """A copy of this episode's step bookkeeping (see :class:`StepState`)."""
        return StepState(self._last_obs.copy(), self._previous_frame.copy(), self.init_obs.copy(), self.goal.copy(), self._steps)

    def load_step_state(self, state: StepState) -> None:
        """Take over step bookkeeping from a simulator that stepped this env's ``MjData`` itself.

        ``init_obs`` is reassigned only when it changed, so the terms
        :meth:`from_init` remembered survive a hand-back within an episode.
        """
        self._last_obs = np.array(state.obs, dtype=np.float64)
        self._previous_frame = np.array(state.previous_frame, dtype=np.float64)
        if not np.array_equal(state.init_obs, self.init_obs):
            self.init_obs = np.array(state.init_obs, dtype=np.float64)
        self.goal = np.array(state.goal, dtype=np.float64)
        self._steps = int(state.steps)

    # ------------------------------------------------------------ snapshots
    #: model arrays a reset may change (variation poses, dynamics variation, goal site)
    _MODEL_FIELDS = ("body_pos", "body_quat", "site_pos", "body_mass", "body_inertia", "geom_friction", "dof_damping")

    def get_state(self) -> dict[str, Any]:
        """A snapshot to continue this episode exactly (checkpoints, resume)."""
        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        physics = np.empty(mujoco.mj_stateSize(self.model, spec))
        mujoco.mj_getState(self.model, self.data, physics, spec)
        return {
            "physics": physics,
            "model": {name: getattr(self.model, name).copy() for name in self._MODEL_FIELDS},
            "goal": self.goal.copy(),
            "init_obs": self.init_obs.copy(),
            "previous_frame": self._previous_frame.copy(),
            "steps": self._steps,
            "obs": self._last_obs.copy(),
            "variation": self._variation,
            "np_random": self.np_random.bit_generator.state,
        }

    def set_state(self, state: dict[str, Any]) -> np.ndarray:
        """Restore a :meth:`get_state` snapshot; returns the current observation."""
        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        # a copy: mj_setState refuses a read-only array (a snapshot unpickled from shared memory by Ray)
        physics = np.array(state["physics"], dtype=np.float64)
        if physics.shape != (mujoco.mj_stateSize(self.model, spec),):
            raise ValueError(f"snapshot does not fit task {self.name!r}: physics state of shape {physics.shape}")
        for name, value in state["model"].items():
            getattr(self.model, name)[:] = value
        mujoco.mj_setState(self.model, self.data, physics, spec)
        mujoco.mj_forward(self.model, self.data)
        # mj_forward overwrites the solver warm start; put the snapshot's back
        mujoco.mj_setState(self.model, self.data, physics, spec)
        self.goal = np.array(state["goal"])
        self.init_obs = np.array(state["init_obs"])
        self._steps = int(state["steps"])
        self._variation = None if state["variation"] is None else tuple(state["variation"])
        self.np_random.bit_generator.state = state["np_random"]
        self._previous_frame = np.array(state["previous_frame"])
        # After mj_step the kinematics are those of the last substep's start; the
        # forward pass above refreshed them, so hand back the stored observation.
        self._last_obs = np.array(state["obs"])
        return self._last_obs.copy()

    # ------------------------------------------------------------ rendering
    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without render_mode; pass render_mode='rgb_array' to make()")
            return None
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.height, self.width)
            close_at_exit(self)
        self._renderer.update_scene(self.data, camera=self.camera)
        return self._renderer.render()

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
