"""Multi-task soft actor-critic with gradient surgery.

SAC (Haarnoja et al., "Soft Actor-Critic Algorithms and Applications", 2018:
Eq. 5-7 for the critic and actor losses, Eq. 18 for the learned temperature
with target entropy -|A|) extended to T tasks as MT-SAC (Yu et al.,
"Meta-World", CoRL 2019, Sec. 5): one actor and one twin critic conditioned
on the task, one learned temperature per task, a task-balanced replay
buffer. Each update's per-task critic and actor losses are combined by a
``GradientSurgery`` (``agents.surgery``: none, PCGrad, CAGrad, FAMO). The
update itself is ``agents.sac_update``: a pure function of the learner's
tensors, compiled whole with ``torch.compile`` (``compile``), eager otherwise.

``MTSAC`` is a learner for the shared training loop, built from its config
and an env config (``envs.suite``): ``step()`` collects one transition from
every world of the suite's vector env over the benchmark's train tasks (the
shared ``agents.collector``) and then updates; ``evaluate()`` measures
success with the suite's evaluator.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, get_args

import numpy as np
import torch

from agents.buffer import TaskBalancedReplayBuffer, TransitionBatch
from agents.collector import Collector
from agents.networks import Conditioning
from agents.sac_networks import SACNetworks
from agents.sac_update import CompileMode
from agents.suite import multitask_tasks_and_evaluator
from agents.surgery import SurgeryName
from envs.layout import ACTION_DIM, OBS_DIM
from envs.report import EvalReport
from envs.suite import EnvConfig, make_suite


@dataclasses.dataclass(frozen=True)
class MTSACConfig:
    """Multi-task SAC. Network and batch sizes default to those common for MT10
    (3 x 400 hidden units, 128 transitions per task per update); the SAC
    constants are Haarnoja et al.'s (lr 3e-4, gamma 0.99, tau 0.005)."""

    surgery: SurgeryName = "none"
    """How per-task gradients become one update: none, pcgrad, cagrad or famo (famo weighs the
    critic's task losses; the actor's loss has no lower bound, so it takes their plain mean)."""
    conditioning: Conditioning = "one_hot"
    """Task conditioning: one_hot (task code appended to the input) or multi_head (plus one output head per task)."""
    hidden_sizes: tuple[int, ...] = (400, 400, 400)
    """Hidden layer widths of the actor and of each Q network."""
    actor_lr: float = 3e-4
    """Adam learning rate of the actor."""
    critic_lr: float = 3e-4
    """Adam learning rate of the twin critic."""
    temperature_lr: float = 3e-4
    """Adam learning rate of the per-task log temperatures."""
    initial_temperature: float = 1.0
    """Entropy temperature alpha of every task at the start."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak rate of the target critic, applied after every update."""
    per_task_batch: int = 128
    """Transitions of every task in one update's batch."""
    buffer_capacity_per_task: int = 100_000
    """Replay capacity of each task (oldest transitions are overwritten)."""
    warmup_steps: int = 5_000
    """Vector-env steps of uniform random actions before the first update."""
    updates_per_step: int = 1
    """Gradient updates after every vector-env step once warmup is over."""
    pcgrad_reduction: Literal["mean", "sum"] = "mean"
    """PCGrad: mean (same step size as no surgery) or sum (the paper's Alg. 1) of projected gradients."""
    cagrad_c: float = 0.4
    """CAGrad: radius c of the ball around the mean gradient (the paper's default 0.4)."""
    famo_beta: float = 0.025
    """FAMO: step size of the task-weight logits."""
    famo_gamma: float = 0.001
    """FAMO: decay of the task-weight logits."""
    compile: CompileMode = "auto"
    """Compile the whole update with torch.compile: auto (on CUDA, and on CPU where a C++ compiler
    is found), on, or off (eager). Compiling takes 25-90 s once per process on 2 CPU cores (3-8 s
    from Inductor's on-disk cache); it pays on runs of more than a few thousand updates."""


#: Single-task SAC on reach with stable-baselines3's settings that solve it (``agents.sb3.REACH_SAC``:
#: small networks, gamma 0.95, lr 1e-3, tau 0.01, two updates per env step, a short warmup).
#: The earlier settings (2 x 256, gamma 0.99, lr 3e-4, one update per step) had reached only 0.4
#: test success after 30k steps (seed 0). Seed 1 (``python -m launch train mt1-reach-sac --run.seed 1``,
#: docs/sac_reach.png):
#: test success 0.35 / 0.85 / 0.95 / 0.9 / 0.95 after 10k / 20k / 30k / 40k / 50k env steps, 8.7 min
#: of training on one thread, the other core busy with another run; on the version with the batched
#: collector and variation indices, 0.0 / 0.3 / 0.75 / 0.65 / 0.85 (one seed: change or noise is unsettled).
REACH = MTSACConfig(hidden_sizes=(64, 64), actor_lr=1e-3, critic_lr=1e-3, temperature_lr=1e-3, gamma=0.95, tau=0.01,
                    per_task_batch=256, updates_per_step=2, warmup_steps=100)
#: what REACH trains and is evaluated on
REACH_ENV = EnvConfig(benchmark="MT1", task="reach", eval_episodes_per_task=20)
#: env steps after which REACH reached >= 0.9 test success on reach (seed 1)
REACH_STEPS = 50_000


def _check(config: MTSACConfig) -> None:
    positive = ("actor_lr", "critic_lr", "temperature_lr", "initial_temperature", "per_task_batch", "buffer_capacity_per_task",
                "updates_per_step")
    for name in positive:
        if not getattr(config, name) > 0:
            raise ValueError(f"MTSACConfig.{name} must be > 0, got {getattr(config, name)!r}")
    if not 0.0 <= config.gamma < 1.0 or not 0.0 < config.tau <= 1.0:
        raise ValueError(f"MTSACConfig needs 0 <= gamma < 1 and 0 < tau <= 1, got gamma={config.gamma}, tau={config.tau}")
    if config.compile not in get_args(CompileMode):
        raise ValueError(f"MTSACConfig.compile must be one of {', '.join(get_args(CompileMode))}, got {config.compile!r}")
    if config.warmup_steps < 1:
        raise ValueError(f"MTSACConfig.warmup_steps must be >= 1 (the buffer needs data before updates), got {config.warmup_steps}")


class MTSAC:
    """Multi-task SAC learner: ``MTSAC(config, env=EnvConfig(...), device=..., seed=...)``."""

    unit = "env_steps"
    #: env steps of a default run and between evaluations (the loop may override both)
    default_budget = 1_000_000
    default_eval_every = 50_000
    #: what it trains on unless told otherwise
    default_env = EnvConfig(benchmark="MT10")

    def __init__(self, config: MTSACConfig, *, env: EnvConfig = default_env, device: torch.device, seed: int):
        _check(config)
        self.config, self.env_config, self.device = config, env, torch.device(device)
        self.suite = make_suite(env, seed)
        self.tasks, self.evaluator = multitask_tasks_and_evaluator(self.suite, "MTSAC")
        t = self.num_tasks = len(self.tasks)
        self.collector = Collector(self.suite.make_vec("train"), self.tasks, seed=seed)
        #: the env steps after which the first update comes (warmup_steps vector steps of random actions):
        #: the loop refuses a smaller budget
        self.warmup_units = config.warmup_steps * self.collector.num_envs
        self.warmup_option = "warmup_steps"

        # Own generators, so that a run is a function of its seed and resumes exactly.
        self.rng = np.random.default_rng(seed)
        self.sac = SACNetworks(config, t, self.device, seed)
        self.actor, self.critic, self.critic_target = self.sac.actor, self.sac.critic, self.sac.critic_target
        self.generator = self.sac.generator
        self.buffer = TaskBalancedReplayBuffer(t, config.buffer_capacity_per_task, OBS_DIM, ACTION_DIM, self.device)
        self.vector_steps = 0

    @property
    def env(self):
        """The training vector env (the collector's)."""
        return self.collector.env

    @property
    def obs(self) -> np.ndarray:
        return self.collector.obs

    # ----------------------------------------------------------- protocol
    def progress(self) -> int:
        return self.collector.env_steps

    def step(self, limit: int | None = None) -> dict[str, float]:
        """One vector-env step (one transition from every world), then updates
        (``limit`` is not needed: one step is one vector step, the loop's granularity)."""
        self.buffer.add(*self.collector.collect(self._explore_actions))
        self.vector_steps += 1
        metrics = self.collector.pop_metrics()
        if self.vector_steps >= self.config.warmup_steps:
            for _ in range(self.config.updates_per_step):
                update_metrics = self.update(self.buffer.sample(self.config.per_task_batch, self.generator))
            # the last update's metrics, in one host transfer
            values = torch.stack([value.float() for value in update_metrics.values()]).tolist()
            metrics.update(zip(update_metrics, values))
        return metrics

    def evaluate(self) -> EvalReport:
        return self.evaluator(self.policy())

    def policy(self):
        """Deterministic batch policy ``(obs [B, 39], task_ids [B]) -> actions [B, 4]`` in numpy."""
        actor, device = self.actor, self.device

        @torch.no_grad()
        def act(obs: np.ndarray, task_ids: np.ndarray) -> np.ndarray:
            obs_t = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=device)
            ids = torch.as_tensor(np.asarray(task_ids), dtype=torch.int64, device=device)
            return actor.deterministic(obs_t, ids).cpu().numpy().astype(np.float64)

        return act

    # --------------------------------------------------------- collection
    def _explore_actions(self, obs: np.ndarray, task_ids: np.ndarray) -> np.ndarray:
        """Uniform random actions during warmup, then samples of the actor."""
        if self.vector_steps < self.config.warmup_steps:
            return self.rng.uniform(-1.0, 1.0, (len(obs), ACTION_DIM))
        with torch.no_grad():
            obs_t = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
            ids = torch.as_tensor(task_ids, device=self.device)
            noise = torch.randn(obs_t.shape[0], ACTION_DIM, generator=self.generator, device=self.device)
            action, _ = self.actor(obs_t, ids, noise)
        return action.cpu().numpy().astype(np.float64)

    # ------------------------------------------------------------- update
    def soft_td_target(self, batch: TransitionBatch, next_noise: torch.Tensor, temperature: torch.Tensor) -> torch.Tensor:
        return self.sac.soft_td_target(batch, next_noise, temperature)

    def update(self, batch: TransitionBatch) -> dict[str, torch.Tensor]:
        """One SAC update on a task-balanced batch; metrics stay on the device."""
        return self.sac.update(batch)

    def close(self) -> None:
        """Release the training and evaluation envs."""
        self.collector.env.close()
        getattr(self.evaluator, "close", lambda: None)()

    # ------------------------------------------------------------- resume
    def state_dict(self) -> dict:
        return {
            **self.sac.state_dict(),
            "buffer": self.buffer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "collector": self.collector.state_dict(),
            "vector_steps": self.vector_steps,
        }

    def load_state_dict(self, state: dict) -> None:
        self.sac.load_state_dict(state)
        self.buffer.load_state_dict(state["buffer"])
        self.rng.bit_generator.state = state["rng"]
        self.collector.load_state_dict(state["collector"])
        self.vector_steps = int(state["vector_steps"])
