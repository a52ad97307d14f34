"""RL² with PPO: a recurrent policy that learns to adapt within a trial.

Duan, Schulman, Chen, Bartlett, Sutskever and Abbeel, "RL²: Fast Reinforcement
Learning via Slow Reinforcement Learning" (2016), Sec. 2.2: the policy is a GRU
that reads the observation with the previous action, reward and done flag; a
*trial* is ``episodes_per_trial`` episodes of one task and variation, the GRU's
state carried across them and zeroed between trials; the outer ("slow") RL
algorithm maximizes the return of the whole trial, so the GRU learns to explore
in early episodes and exploit in later ones. The paper's outer algorithm was
TRPO; as in Meta-World (Yu et al., CoRL 2019) and Meta-World+ (McLean et al.,
2025), PPO here: advantages by GAE over the whole trial (only its end is
terminal), the clipped surrogate, backpropagation through the whole trial (or
truncated, from the states saved while collecting).

Settings start from metaworld-algorithms' RL² (GRU 256, 10 episodes per trial,
meta-batch 20 trials per iteration for ML10, clip 0.2, GAE lambda 0.97,
entropy 5e-3, normalized advantages, 16 epochs) and garage's (the gradient
through the whole trial). Where they differ: by default 4 epochs over 4
minibatches of trials (16 gradient steps rather than 16 x 32, sized for a
CPU), rewards scaled by 1/100 before the value head and advantages (returns of
a 10-episode trial reach thousands), and episodes as long as ``episode_steps``
(the env's 500 by default; CPU presets use shorter ones, so that what one
episode teaches is within the discount's reach of the next: 0.99^500 is
0.007). The meta-batch must cover the train tasks (every task keeps a world).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
import torch

from envs.base import MAX_EPISODE_STEPS
from envs.layout import OBS_DIM
from envs.report import EvalReport
from envs.suite import EnvConfig
from meta.rl import baseline
from meta.rl.ppo import clipped_surrogate, generalized_advantages
from meta.rl.recurrent_memory import RecurrentMemory, RL2Agent
from meta.rl.recurrent_policy import RecurrentActorCritic
from meta.rl.trials import check_config, trial_worlds


@dataclasses.dataclass(frozen=True)
class RL2Config:
    hidden_size: int = 256
    """Units of the GRU."""
    episodes_per_trial: int = 10
    """Episodes of one task and variation with the GRU's state carried across them."""
    episode_steps: int = MAX_EPISODE_STEPS
    """Steps of every training episode (and, unless env.eval_max_steps is shorter, of every evaluation one)."""
    meta_batch: int = 20
    """Trials collected per iteration, one per world; every iteration takes meta_batch x episodes_per_trial x episode_steps env steps."""
    gamma: float = 0.99
    gae_lambda: float = 0.97
    clip: float = 0.2
    """PPO's clip range of the probability ratio."""
    entropy_coef: float = 5e-3
    value_coef: float = 0.5
    lr: float = 5e-4
    epochs: int = 4
    """Passes over an iteration's trials."""
    minibatches: int = 4
    """Minibatches of sequences per pass."""
    bptt_steps: int | None = None
    """Steps of truncated backpropagation through time (each chunk replays from its saved start state); None: the whole
    trial. Truncating at episodes stops the gradient of what the GRU writes in one episode for use in the next: measured
    on ML1-reach, its later episodes then did worse than its first."""
    baseline: Literal["shared", "linear"] = "shared"
    """What the advantages are measured against. shared: the value head on the policy's GRU, trained with it
    (value_coef); linear: a linear feature baseline (meta.rl.baseline) fitted to each trial's returns, as garage's and
    metaworld-algorithms' RL² have it, so that only the policy-gradient trains the GRU."""
    max_grad_norm: float = 1.0
    reward_scale: float = 0.01
    """Rewards are multiplied by this for the value head and advantages (the GRU reads them scaled by 1/10)."""
    init_log_std: float = 0.0


def _check(config: RL2Config) -> None:
    check_config(config, ("hidden_size", "episodes_per_trial", "episode_steps", "meta_batch", "epochs", "minibatches", "lr", "reward_scale"))
    trial = config.episodes_per_trial * config.episode_steps
    bptt = config.bptt_steps or trial
    if bptt < 1 or trial % bptt:
        raise ValueError(f"RL2Config.bptt_steps must divide a trial's {trial} steps, got {config.bptt_steps}")
    if (config.meta_batch * trial // bptt) < config.minibatches:
        raise ValueError(f"RL2Config.minibatches ({config.minibatches}) exceeds the {config.meta_batch * trial // bptt} sequences of an iteration")
    if config.baseline not in ("shared", "linear"):
        raise ValueError(f"RL2Config.baseline must be 'shared' or 'linear', got {config.baseline!r}")
    if not (0 < config.gamma <= 1 and 0 <= config.gae_lambda <= 1 and 0 < config.clip < 1):
        raise ValueError(f"RL2Config needs 0 < gamma <= 1, 0 <= gae_lambda <= 1, 0 < clip < 1; got {config.gamma}, {config.gae_lambda}, {config.clip}")


#: what ``python -m launch train rl2-ppo`` trains on unless told otherwise
ML1_REACH = EnvConfig(benchmark="ML1", task="reach")


class RL2:
    """``RL2(config, env=EnvConfig(benchmark="ML10"), device=..., seed=...)``: meta-trains on the train split's
    tasks and variations, and is evaluated by the adapt-then-evaluate protocol on ``env.eval_split``."""

    unit = "env_steps"
    default_budget = 2_000_000
    default_eval_every = 200_000
    default_env = ML1_REACH

    def __init__(self, config: RL2Config, *, env: EnvConfig = default_env, device: torch.device, seed: int):
        _check(config)
        self.config, self.env_config, self.device = config, env, torch.device(device)
        self.rng = np.random.default_rng(seed)
        self.suite, self.tasks, self.schedule, self.collector = trial_worlds(
            env, seed, "rl2-ppo", "RL2Config.meta_batch", config.meta_batch, config.episodes_per_trial, config.episode_steps, self.rng)
        self.trial_steps = config.episodes_per_trial * config.episode_steps
        #: steps of each chunk the update backpropagates through (a whole trial unless truncated)
        self.bptt_steps = config.bptt_steps or self.trial_steps
        #: the first update comes after one iteration's trials: the loop refuses a smaller budget
        self.warmup_units = config.meta_batch * self.trial_steps
        self.warmup_option = "meta_batch"

        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        torch.manual_seed(seed)  # the network's initial weights
        self.net = RecurrentActorCritic(config.hidden_size, config.init_log_std).to(self.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr, eps=1e-5)
        self.memory = RecurrentMemory(self.net, config.meta_batch, self.device)
        self.evaluator = self.suite.adaptation_evaluator(max_steps=min(env.eval_max_steps, config.episode_steps))
        self.iterations = 0

    # ----------------------------------------------------------- protocol
    def progress(self) -> int:
        return self.collector.env_steps

    def step(self, limit: int | None = None) -> dict[str, float]:
        """One iteration: a trial in every world, then PPO's epochs over them (an iteration cannot be split,
        so ``limit`` is not consulted)."""
        rollout = self._collect()
        metrics = self._update(rollout)
        self.iterations += 1
        metrics.update(self.collector.pop_metrics())
        metrics["charts/iterations"] = float(self.iterations)
        return metrics

    def evaluate(self) -> EvalReport:
        return self.evaluator(self.agent())

    def agent(self) -> RL2Agent:
        """The policy as a ``MetaLearningAgent`` (``envs.adaptation``), sampling with its own fixed-seed generator."""
        return RL2Agent(self.net, self.device, self.config.episodes_per_trial)

    def close(self) -> None:
        self.collector.env.close()
        self.evaluator.close()

    # --------------------------------------------------------- collection
    def _collect(self) -> dict[str, torch.Tensor]:
        """One trial per world (trials start together, at the first step of an iteration): sequences [N, L]."""
        length, bptt = self.trial_steps, self.bptt_steps
        columns = {key: [] for key in ("inputs", "actions", "log_probs", "values", "rewards", "ends")}
        starts = []
        with torch.no_grad():
            for t in range(length):
                if t % bptt == 0:
                    starts.append(self.memory.state.clone())
                obs = torch.as_tensor(self.collector.obs, dtype=torch.float32, device=self.device)
                inputs, mean, value = self.memory.advance(obs)
                action = self.net.sample(mean, self.generator)
                log_prob = self.net.distribution(mean).log_prob(action).sum(-1)
                executed = action.clamp(-1.0, 1.0)
                transitions = self.collector.step(executed.cpu().numpy().astype(np.float64))
                done = transitions.terminated | transitions.truncated
                reward = torch.as_tensor(transitions.reward, dtype=torch.float32, device=self.device)
                self.memory.observe(executed, reward, torch.as_tensor(done, device=self.device))
                ended = torch.as_tensor(self.schedule.new_trial & done, device=self.device)
                self.memory.begin_trials(ended)
                for key, value_ in zip(columns, (inputs, action, log_prob, value, reward, ended)):
                    columns[key].append(value_)
        rollout = {key: torch.stack(values, dim=1) for key, values in columns.items()}
        if not bool(rollout["ends"][:, -1].all()):
            raise RuntimeError("RL² collection lost its trial alignment: every world's trial must end with the iteration")
        rollout["starts"] = torch.stack(starts, dim=1)  # [N, L / bptt, H]
        return rollout

    # ------------------------------------------------------------- update
    def _update(self, rollout: dict[str, torch.Tensor]) -> dict[str, float]:
        c, bptt = self.config, self.bptt_steps
        with torch.no_grad():
            scaled = rollout["rewards"] * c.reward_scale
            values = rollout["values"] if c.baseline == "shared" else self._linear_baseline(rollout, scaled)
            advantages = generalized_advantages(scaled, values, rollout["ends"], torch.zeros_like(scaled[:, 0]), c.gamma, c.gae_lambda)
            returns = advantages + values
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

        def chunks(x: torch.Tensor) -> torch.Tensor:  # [N, L, ...] -> [N * L / bptt, bptt, ...]
            return x.reshape(x.shape[0] * (x.shape[1] // bptt), bptt, *x.shape[2:])

        inputs, actions, old_log_probs = chunks(rollout["inputs"]), chunks(rollout["actions"]), chunks(rollout["log_probs"])
        advantages, returns = chunks(advantages), chunks(returns)
        starts = rollout["starts"].reshape(-1, c.hidden_size)
        sums: dict[str, torch.Tensor] = {}  # summed on the device, read once at the end
        for _ in range(c.epochs):
            order = torch.randperm(len(inputs), generator=self.generator, device=self.device)
            for batch in order.chunk(c.minibatches):
                mean, value, _ = self.net.unroll(inputs[batch], starts[batch])
                distribution = self.net.distribution(mean)
                policy_loss, diagnostics = clipped_surrogate(distribution.log_prob(actions[batch]).sum(-1), old_log_probs[batch],
                                                             advantages[batch], c.clip)
                entropy = distribution.entropy().sum(-1).mean()
                metrics = {"policy": policy_loss, "entropy": entropy, **diagnostics}
                if c.baseline == "shared":  # the value head learns with the GRU it shares
                    metrics["value"] = 0.5 * (value - returns[batch]).pow(2).mean()
                    loss = policy_loss + c.value_coef * metrics["value"] - c.entropy_coef * entropy
                else:
                    loss = policy_loss - c.entropy_coef * entropy
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), c.max_grad_norm)
                self.optimizer.step()
                for key, metric in metrics.items():
                    sums[key] = sums.get(key, 0.0) + metric.detach()
        steps = c.epochs * min(c.minibatches, len(inputs))
        with torch.no_grad():
            charts = torch.stack([rollout["rewards"].sum(1).mean(), self.net.log_std.exp().mean()])
        values = torch.cat([torch.stack(list(sums.values())) / steps, charts]).tolist()  # one host transfer
        names = [f"losses/{key}" for key in sums] + ["charts/trial_return", "charts/action_std"]
        return dict(zip(names, values))

    def _linear_baseline(self, rollout: dict[str, torch.Tensor], scaled_rewards: torch.Tensor) -> torch.Tensor:
        """[N, L] values of a linear feature baseline fitted to each trial (one path: its time feature runs over the
        whole trial) on the observations the GRU read; ``_collect`` makes every sequence exactly one trial."""
        obs = rollout["inputs"][..., :OBS_DIM]
        return baseline.fitted_values(obs.unsqueeze(1), scaled_rewards.unsqueeze(1), self.config.gamma).squeeze(1)

    # ------------------------------------------------------------- resume
    def state_dict(self) -> dict:
        return {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "schedule": self.schedule.state_dict(),  # holds self.rng's state too
            "collector": self.collector.state_dict(),
            "memory": self.memory.state_dict(),
            "iterations": self.iterations,
        }

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"].cpu())
        self.schedule.load_state_dict(state["schedule"])
        self.collector.load_state_dict(state["collector"])
        self.memory.load_state_dict(state["memory"])
        self.iterations = int(state["iterations"])
