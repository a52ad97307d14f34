"""Multi-task soft actor-critic with gradient surgery.

SAC (Haarnoja et al., "Soft Actor-Critic Algorithms and Applications", 2018:
Eq. 5-7 for the critic and actor losses, Eq. 18 for the learned temperature
with target entropy -|A|) extended to T tasks as MT-SAC (Yu et al.,
"Meta-World", CoRL 2019, Sec. 5): one actor and one twin critic conditioned
on the task, one learned temperature per task, a task-balanced replay
buffer. Each update's per-task critic and actor losses are combined by a
``GradientSurgery`` (``agents.surgery``: none, PCGrad, CAGrad, FAMO).

``MTSAC`` is a learner for the shared training loop, built from its config
and an env config (``envs.suite``): ``step()`` collects one transition from
every world of the suite's vector env over the benchmark's train tasks (the
shared ``agents.collector``) and then updates; ``evaluate()`` measures
success with the suite's evaluator.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np
import torch
from torch.func import functional_call

from agents.buffer import TaskBalancedReplayBuffer, TransitionBatch
from agents.collector import Collector
from agents.networks import Conditioning, TanhGaussianActor, TwinCritic, frozen_copy, polyak_update
from agents.suite import multitask_tasks_and_evaluator
from agents.surgery import SurgeryName, make_surgery
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


#: Single-task SAC on reach with stable-baselines3's settings that solve it (``agents.sb3.REACH_SAC``:
#: small networks, gamma 0.95, lr 1e-3, tau 0.01, two updates per env step, a short warmup).
#: The earlier settings (2 x 256, gamma 0.99, lr 3e-4, one update per step) had reached only 0.4
#: test success after 30k steps (``python benchmarks/sac_learning.py --steps 30000``, seed 0). Seed 1
#: (``python benchmarks/sac_learning.py --steps 50000 --eval-every 10000 --seeds 1``, docs/sac_reach.png):
#: test success 0.35 / 0.85 / 0.95 / 0.9 / 0.95 after 10k / 20k / 30k / 40k / 50k env steps, 8.7 min
#: of training on one thread, the other core busy with another run.
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
        #: env steps of uniform random actions before the first update: the loop refuses a budget within them
        self.warmup_units = config.warmup_steps * self.collector.num_envs

        # Own generators, so that a run is a function of its seed and resumes exactly.
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.actor = TanhGaussianActor(OBS_DIM, ACTION_DIM, t, config.hidden_sizes, config.conditioning).to(self.device)
            self.critic = TwinCritic(OBS_DIM, ACTION_DIM, t, config.hidden_sizes, config.conditioning).to(self.device)
        self.critic_target = frozen_copy(self.critic)
        self.log_temperature = torch.full((t,), math.log(config.initial_temperature), device=self.device, requires_grad=True)
        self.target_entropy = -float(ACTION_DIM)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr, fused=True)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr, fused=True)
        self.temperature_optimizer = torch.optim.Adam([self.log_temperature], lr=config.temperature_lr, fused=True)
        self.critic_surgery = self._make_surgery(seed, loss_floor_known=True)
        self.actor_surgery = self._make_surgery(seed + 1, loss_floor_known=False)
        self.buffer = TaskBalancedReplayBuffer(t, config.buffer_capacity_per_task, OBS_DIM, ACTION_DIM, self.device)

        self.vector_steps = 0

    def _make_surgery(self, seed: int, loss_floor_known: bool):
        c, name = self.config, self.config.surgery
        options = {"pcgrad": {"reduction": c.pcgrad_reduction}, "cagrad": {"c": c.cagrad_c},
                   "famo": {"beta": c.famo_beta, "gamma": c.famo_gamma, "loss_floor": 0.0}}.get(name, {})
        if name == "famo" and not loss_floor_known:
            # FAMO needs positive losses with a known floor (Liu et al. 2023, Sec. 3); the critic's
            # squared TD errors have floor 0, SAC's actor loss has none: it takes the plain mean.
            name, options = "none", {}
        return make_surgery(name, self.num_tasks, self.device, seed=seed, **options)

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
    @torch.no_grad()
    def soft_td_target(self, batch: TransitionBatch, next_noise: torch.Tensor, temperature: torch.Tensor) -> torch.Tensor:
        """``r + gamma (1 - terminated) (min Q_target(s', a') - alpha log pi(a'|s'))``, ``[T, B]``:
        it bootstraps through a truncation (a time limit), not through a termination."""
        next_action, next_log_prob = self.actor(batch.next_obs, batch.task_id, next_noise)
        next_q = self.critic_target(batch.next_obs, next_action, batch.task_id).min(-1).values
        soft_value = next_q - temperature[:, None] * next_log_prob
        return batch.reward + self.config.gamma * (1.0 - batch.terminated) * soft_value

    def update(self, batch: TransitionBatch) -> dict[str, torch.Tensor]:
        """One SAC update on a task-balanced batch; metrics stay on the device."""
        shape = (self.num_tasks, self.config.per_task_batch, ACTION_DIM)
        next_noise = torch.randn(shape, generator=self.generator, device=self.device)
        policy_noise = torch.randn(shape, generator=self.generator, device=self.device)
        temperature = self.log_temperature.detach().exp()

        target = self.soft_td_target(batch, next_noise, temperature)
        critic = self.critic

        def critic_task_loss(params, task_batch):
            obs, action, task_target, task_id = task_batch
            q = functional_call(critic, params, (obs, action, task_id))
            return (q - task_target.unsqueeze(-1)).pow(2).mean(0).sum()

        critic_result = self.critic_surgery.step(critic, self.critic_optimizer, critic_task_loss, (batch.obs, batch.action, target, batch.task_id))

        actor = self.actor
        critic_params = {name: p.detach() for name, p in critic.named_parameters()}

        def actor_task_loss(params, task_batch):
            obs, noise, task_temperature, task_id = task_batch
            action, log_prob = functional_call(actor, params, (obs, task_id, noise))
            q = functional_call(critic, critic_params, (obs, action, task_id)).min(-1).values
            return (task_temperature * log_prob - q).mean()

        actor_result = self.actor_surgery.step(actor, self.actor_optimizer, actor_task_loss, (batch.obs, policy_noise, temperature, batch.task_id))

        with torch.no_grad():
            _, log_prob = actor(batch.obs, batch.task_id, policy_noise)
        temperature_loss = -(self.log_temperature[:, None] * (log_prob + self.target_entropy)).mean(1).sum()
        self.temperature_optimizer.zero_grad(set_to_none=True)
        temperature_loss.backward()
        self.temperature_optimizer.step()
        polyak_update(self.critic_target, critic, self.config.tau)

        metrics = {
            "losses/critic": critic_result.losses.mean(),
            "losses/actor": actor_result.losses.mean(),
            "losses/temperature": temperature_loss.detach() / self.num_tasks,
            "charts/temperature": temperature.mean(),
            "charts/entropy": -log_prob.mean(),
            "charts/target_q": target.mean(),
        }
        for prefix, result in (("critic", critic_result), ("actor", actor_result)):
            metrics.update({f"charts/{prefix}_{name}": value for name, value in result.metrics.items()})
        return metrics

    # ------------------------------------------------------------- resume
    def state_dict(self) -> dict:
        return {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "log_temperature": self.log_temperature.detach().cpu().clone(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "temperature_optimizer": self.temperature_optimizer.state_dict(),
            "critic_surgery": self.critic_surgery.state_dict(),
            "actor_surgery": self.actor_surgery.state_dict(),
            "buffer": self.buffer.state_dict(),
            "generator": self.generator.get_state(),
            "rng": self.rng.bit_generator.state,
            "collector": self.collector.state_dict(),
            "vector_steps": self.vector_steps,
        }

    def load_state_dict(self, state: dict) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        with torch.no_grad():
            self.log_temperature.copy_(state["log_temperature"])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.temperature_optimizer.load_state_dict(state["temperature_optimizer"])
        self.critic_surgery.load_state_dict(state["critic_surgery"])
        self.actor_surgery.load_state_dict(state["actor_surgery"])
        self.buffer.load_state_dict(state["buffer"])
        self.generator.set_state(state["generator"])
        self.rng.bit_generator.state = state["rng"]
        self.collector.load_state_dict(state["collector"])
        self.vector_steps = int(state["vector_steps"])
