"""PEARL: off-policy meta-RL with a probabilistic context variable, as a learner of the shared loop.

Rakelly, Zhou, Quillen, Finn & Levine, "Efficient Off-Policy Meta-Reinforcement
Learning via Probabilistic Context Variables" (ICML 2019), Algorithm 1. A
*task* is a (task, variation) pair of the train split (ML1: the 50 variations
of one task; ML10: 10 x 50 pairs); each has its own replay buffer and its own
context buffer. One iteration:

1. collection (one trial per world, ``tasks_per_iteration`` worlds stepped
   together in the suite's batched simulator): each world draws a pair,
   empties its context buffer, runs ``prior_episodes`` episodes with z drawn
   from the prior (into both buffers), then ``posterior_episodes`` with z drawn
   from the posterior over a context batch of its context buffer (replay only),
   z drawn anew every episode, as the authors' collection does;
2. ``updates_per_iteration`` gradient steps, each on ``meta_batch`` pairs: a
   context batch from each pair's context buffer (its newest prior-policy data:
   the paper's separation of context and RL data, Sec. 4.2), an RL batch from
   its replay buffer, the update of ``meta.rl.pearl_sac``.

Settings follow the authors' code (oyster): latent 5, encoder 3 x 200, SAC
networks 3 x 300, KL weight 0.1, reward scale 5, lr 3e-4, meta-batch 16, 5
tasks collected per iteration, context batch 64, RL batch 256; the Meta-World
paper's appendix ran latent 7 and KL 0.01 (the ``ml10-pearl`` preset). Where
ours differs: episodes of ``episode_steps`` steps rather than step counts, and
no initial pass that fills every pair's buffers before training: updates draw
their meta-batch from the pairs collected so far (with replacement).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from agents.buffer import TaskBalancedReplayBuffer
from envs.base import MAX_EPISODE_STEPS
from envs.layout import ACTION_DIM, OBS_DIM
from envs.report import EvalReport
from envs.suite import EnvConfig
from meta.rl.context_encoder import CONTEXT_DIM, ContextEncoder, context_features
from meta.rl.pearl_agent import PEARLAgent
from meta.rl.pearl_sac import LatentSAC, SACSettings, make_optimizers, pearl_update
from meta.rl.trials import check_config, trial_worlds


@dataclasses.dataclass(frozen=True)
class PEARLConfig:
    latent_size: int = 5
    encoder_hidden_sizes: tuple[int, ...] = (200, 200, 200)
    hidden_sizes: tuple[int, ...] = (300, 300, 300)
    """Widths of the policy, Q and V networks."""
    kl_weight: float = 0.1
    reward_scale: float = 5.0
    """Rewards are multiplied by this in the Bellman target (with the temperature fixed: the entropy trade-off)."""
    learn_temperature: bool = False
    """Learn SAC's entropy temperature towards entropy -4 (the paper keeps it at 1; see meta.rl.pearl_sac)."""
    lr: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005
    meta_batch: int = 16
    """Pairs per gradient step."""
    tasks_per_iteration: int = 5
    """Worlds collecting per iteration, each on a pair of its own."""
    episode_steps: int = MAX_EPISODE_STEPS
    prior_episodes: int = 1
    """Episodes per trial with z from the prior (they refill the pair's context buffer)."""
    posterior_episodes: int = 1
    """Episodes per trial with z from the posterior over the pair's context (replay only)."""
    updates_per_iteration: int = 1000
    batch_size: int = 256
    context_batch: int = 64
    buffer_capacity: int = 2_000
    """Transitions kept in each pair's replay buffer (ML10 has 500 pairs)."""


def _check(config: PEARLConfig) -> None:
    check_config(config, ("latent_size", "kl_weight", "reward_scale", "lr", "meta_batch", "tasks_per_iteration", "episode_steps",
                          "prior_episodes", "updates_per_iteration", "batch_size", "context_batch", "buffer_capacity"))
    if config.posterior_episodes < 0 or not (0 < config.gamma <= 1 and 0 < config.tau <= 1):
        raise ValueError(f"PEARLConfig needs posterior_episodes >= 0, 0 < gamma <= 1, 0 < tau <= 1; "
                         f"got {config.posterior_episodes}, {config.gamma}, {config.tau}")


#: what ``python -m launch train pearl`` trains on unless told otherwise
ML1_REACH = EnvConfig(benchmark="ML1", task="reach")


class PEARL:
    """``PEARL(config, env=EnvConfig(benchmark="ML10"), device=..., seed=...)``: meta-trains on the train split's
    pairs and is evaluated by the adapt-then-evaluate protocol on ``env.eval_split``."""

    unit = "env_steps"
    default_budget = 2_000_000
    default_eval_every = 200_000
    default_env = ML1_REACH

    def __init__(self, config: PEARLConfig, *, env: EnvConfig = default_env, device: torch.device, seed: int):
        _check(config)
        self.config, self.env_config, self.device = config, env, torch.device(device)
        self.rng = np.random.default_rng(seed)
        self.trial_episodes = config.prior_episodes + config.posterior_episodes
        self.suite, self.tasks, self.schedule, self.collector = trial_worlds(
            env, seed, "pearl", "PEARLConfig.tasks_per_iteration", config.tasks_per_iteration, self.trial_episodes,
            config.episode_steps, self.rng)
        self.variations = self.suite.variations_per_task
        self.num_pairs = len(self.tasks) * self.variations
        self.warmup_units = config.tasks_per_iteration * self.trial_episodes * config.episode_steps
        self.warmup_option = "tasks_per_iteration"

        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        torch.manual_seed(seed)  # the networks' initial weights
        self.encoder = ContextEncoder(config.latent_size, config.encoder_hidden_sizes).to(self.device)
        self.sac = LatentSAC(config.latent_size, config.hidden_sizes).to(self.device)
        self.optimizers = make_optimizers(self.encoder, self.sac, config.lr)
        self.settings = SACSettings(gamma=config.gamma, tau=config.tau, reward_scale=config.reward_scale, kl_weight=config.kl_weight,
                                    target_entropy=-float(ACTION_DIM) if config.learn_temperature else None)
        self.replay = TaskBalancedReplayBuffer(self.num_pairs, config.buffer_capacity, OBS_DIM, ACTION_DIM, self.device)
        self.context = TaskBalancedReplayBuffer(self.num_pairs, config.prior_episodes * config.episode_steps, OBS_DIM, ACTION_DIM, self.device)
        self.evaluator = self.suite.adaptation_evaluator(max_steps=min(env.eval_max_steps, config.episode_steps))
        self.iterations = 0

    # ----------------------------------------------------------- protocol
    def progress(self) -> int:
        return self.collector.env_steps

    def step(self, limit: int | None = None) -> dict[str, float]:
        """One iteration: a trial in every world, then the gradient steps (an iteration cannot be split, so
        ``limit`` is not consulted)."""
        metrics = self._collect()
        sums: dict[str, torch.Tensor] = {}
        for _ in range(self.config.updates_per_iteration):
            for key, value in self._update().items():
                sums[key] = sums.get(key, 0.0) + value
        self.iterations += 1
        metrics.update({key: float(value) / self.config.updates_per_iteration for key, value in sums.items()})
        metrics.update(self.collector.pop_metrics())
        metrics["charts/iterations"] = float(self.iterations)
        return metrics

    def evaluate(self) -> EvalReport:
        return self.evaluator(self.agent())

    def agent(self) -> PEARLAgent:
        """The policy as a ``MetaLearningAgent`` (``envs.adaptation``), sampling with its own fixed-seed generator."""
        return PEARLAgent(self.encoder, self.sac, self.device)

    def close(self) -> None:
        self.collector.env.close()
        self.evaluator.close()

    # --------------------------------------------------------- collection
    def pairs(self) -> np.ndarray:
        """The (task, variation) pair each world runs now, as an index into the per-pair buffers."""
        return self.schedule.task * self.variations + self.schedule.variation

    @torch.no_grad()
    def _collect(self) -> dict[str, float]:
        """One trial in every world (trials start together, at an iteration's first step)."""
        c, n = self.config, self.config.tasks_per_iteration
        pairs = self.pairs()
        self.context.clear(pairs)
        success = {"prior": [], "posterior": []}
        for episode in range(self.trial_episodes):
            phase = "prior" if episode < c.prior_episodes else "posterior"
            if phase == "prior":  # the posterior of no context
                context = torch.zeros(n, 0, CONTEXT_DIM, device=self.device)
            else:
                batch = self.context.sample(c.context_batch, self.generator, tasks=pairs)
                context = context_features(batch.obs, batch.action, batch.reward)
            z = self.encoder.sample(*self.encoder.posterior(context), self.generator)
            for _ in range(c.episode_steps):
                obs = torch.as_tensor(self.collector.obs, dtype=torch.float32, device=self.device)
                noise = torch.randn(n, ACTION_DIM, generator=self.generator, device=self.device)
                action, _, _ = self.sac.act(obs, z, noise)
                t = self.collector.step(action.cpu().numpy().astype(np.float64))
                stored = (t.obs, t.action, t.reward, t.next_obs, t.terminated, t.truncated, pairs)
                self.replay.add(*stored)
                if phase == "prior":
                    self.context.add(*stored)
            if len(self.collector.last_finished) != n:
                raise RuntimeError("PEARL collection lost its trial alignment: every world's episode must end together")
            success[phase].extend(e.success for e in self.collector.last_finished)
        return {f"charts/{phase}_success": float(np.mean(values)) for phase, values in success.items() if values}

    # ------------------------------------------------------------- update
    def _update(self) -> dict[str, torch.Tensor]:
        c = self.config
        collected = np.flatnonzero(self.context.size > 0)  # the pairs with context so far
        chosen = torch.randint(len(collected), (c.meta_batch,), generator=self.generator, device=self.device).cpu().numpy()
        tasks = collected[chosen]
        context = self.context.sample(c.context_batch, self.generator, tasks=tasks)
        batch = self.replay.sample(c.batch_size, self.generator, tasks=tasks)
        return pearl_update(self.encoder, self.sac, self.optimizers, context_features(context.obs, context.action, context.reward),
                            batch, self.settings, self.generator)

    # ------------------------------------------------------------- resume
    def state_dict(self) -> dict:
        return {
            "encoder": self.encoder.state_dict(),
            "sac": self.sac.state_dict(),
            "optimizers": {name: optimizer.state_dict() for name, optimizer in self.optimizers.items()},
            "generator": self.generator.get_state(),
            "schedule": self.schedule.state_dict(),  # holds self.rng's state too
            "collector": self.collector.state_dict(),
            "replay": self.replay.state_dict(),
            "context": self.context.state_dict(),
            "iterations": self.iterations,
        }

    def load_state_dict(self, state: dict) -> None:
        self.encoder.load_state_dict(state["encoder"])
        self.sac.load_state_dict(state["sac"])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        self.generator.set_state(state["generator"].cpu())
        self.schedule.load_state_dict(state["schedule"])
        self.collector.load_state_dict(state["collector"])
        self.replay.load_state_dict(state["replay"])
        self.context.load_state_dict(state["context"])
        self.iterations = int(state["iterations"])
