"""MAML-TRPO: MAML's policy-gradient inner step, meta-optimized by TRPO through it.

Finn, Abbeel & Levine (ICML 2017), Sec. 5.3: the outer ("meta") objective is
the surrogate of the post-adaptation rollouts of every task of a meta-batch,
as a function of the initial parameters through the inner step, maximized by
TRPO (Schulman et al., ICML 2015) with the mean KL of the adapted policies as
its constraint; the Fisher-vector products differentiate through the inner
step too (``first_order=True`` cuts that path: FOMAML). One iteration:

1. draw ``meta_batch`` (task, variation) pairs from the train split, each run
   by ``rollouts_per_task`` worlds side by side;
2. pre-adaptation: one episode in every world with the shared policy;
3. the inner step per task on its rollouts (``meta.rl.maml``), then one
   post-adaptation episode in every world with its task's adapted policy;
4. TRPO on the post-adaptation surrogate, the inner step recomputed inside.

Both rollout phases step all worlds of the meta-batch in one vector step of
the suite's (batched) simulator per env step.

Settings follow metaworld-algorithms' MAML-TRPO (2 x 512 tanh policy with a
state-independent log-std, one inner SGD step at 0.1, max KL 0.01, 10
conjugate-gradient iterations, backtracking 0.8 x 15, meta-batch 20 for ML10,
10 rollouts per task, a linear feature baseline) and garage's (discount 0.99,
GAE lambda 1, normalized advantages). CPU presets shrink the policy, the
meta-batch and the episodes (``launch.algorithms``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from envs.base import MAX_EPISODE_STEPS
from envs.layout import ACTION_DIM, OBS_DIM
from envs.report import EvalReport
from envs.suite import EnvConfig
from meta.rl.gaussian_policy import GaussianPolicy, sample
from meta.rl.maml import MAMLAgent, Rollouts, adapt, advantages, make_inner_loop, outer_objectives, task_outputs
from meta.rl.trials import check_config, trial_worlds
from meta.rl.trpo import trpo_step


@dataclasses.dataclass(frozen=True)
class MAMLTRPOConfig:
    hidden_sizes: tuple[int, ...] = (512, 512)
    """Widths of the policy's tanh layers."""
    init_log_std: float = 0.0
    """Initial log standard deviation of the policy's (state-independent) action noise."""
    meta_batch: int = 20
    """(task, variation) pairs drawn from the train split per iteration."""
    rollouts_per_task: int = 10
    """Episodes of each pair, side by side, before and after adaptation: an iteration takes
    2 x meta_batch x rollouts_per_task x episode_steps env steps."""
    episode_steps: int = MAX_EPISODE_STEPS
    """Steps of every training episode (and, unless env.eval_max_steps is shorter, of every evaluation one)."""
    inner_lr: float = 0.1
    """Rate of the inner SGD step (fixed, not learned)."""
    inner_steps: int = 1
    """Inner SGD steps, each on the same pre-adaptation rollouts."""
    first_order: bool = False
    """Drop the second-order term of the meta-gradient (FOMAML): the inner gradient is a constant."""
    gamma: float = 0.99
    gae_lambda: float = 1.0
    """GAE's lambda against the linear feature baseline (1: returns minus baseline, as garage's MAML)."""
    max_kl: float = 0.01
    """TRPO's bound on the mean KL divergence of the adapted policies per outer step."""
    cg_iterations: int = 10
    """Conjugate-gradient iterations for TRPO's natural-gradient direction."""
    cg_damping: float = 1e-5
    """Multiple of the identity added to the Fisher matrix."""
    backtrack_ratio: float = 0.8
    """Factor by which the line search shrinks a step the KL bound or the surrogate rejects."""
    max_backtracks: int = 15


def _check(config: MAMLTRPOConfig) -> None:
    check_config(config, ("meta_batch", "rollouts_per_task", "episode_steps", "inner_lr", "inner_steps", "max_kl", "cg_iterations",
                          "backtrack_ratio", "max_backtracks"))
    if not config.hidden_sizes or min(config.hidden_sizes) < 1:
        raise ValueError(f"MAMLTRPOConfig needs positive hidden_sizes, got {config.hidden_sizes}")
    if not (0 < config.gamma <= 1 and 0 <= config.gae_lambda <= 1 and config.backtrack_ratio < 1 and config.cg_damping >= 0):
        raise ValueError(f"MAMLTRPOConfig needs 0 < gamma <= 1, 0 <= gae_lambda <= 1, backtrack_ratio < 1 and cg_damping >= 0; "
                         f"got {config.gamma}, {config.gae_lambda}, {config.backtrack_ratio} and {config.cg_damping}")


#: what ``python -m launch train maml-trpo`` trains on unless told otherwise
ML1_REACH = EnvConfig(benchmark="ML1", task="reach")


class MAMLTRPO:
    """``MAMLTRPO(config, env=EnvConfig(benchmark="ML10"), device=..., seed=...)``: meta-trains on the train split's
    tasks and variations, and is evaluated by the adapt-then-evaluate protocol on ``env.eval_split``."""

    unit = "env_steps"
    default_budget = 4_000_000
    default_eval_every = 1_000_000
    default_env = ML1_REACH

    def __init__(self, config: MAMLTRPOConfig, *, env: EnvConfig = default_env, device: torch.device, seed: int):
        _check(config)
        self.config, self.env_config, self.device = config, env, torch.device(device)
        num_worlds = config.meta_batch * config.rollouts_per_task
        self.rng = np.random.default_rng(seed)
        # a trial is a pair's pre- and post-adaptation episode, in rollouts_per_task worlds side by side
        self.suite, self.tasks, self.schedule, self.collector = trial_worlds(
            env, seed, "maml-trpo", "MAMLTRPOConfig.meta_batch x rollouts_per_task", num_worlds, 2, config.episode_steps, self.rng,
            worlds_per_trial=config.rollouts_per_task)
        #: the first update comes after one iteration's rollouts: the loop refuses a smaller budget
        self.warmup_units = 2 * num_worlds * config.episode_steps
        self.warmup_option = "meta_batch"

        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        torch.manual_seed(seed)  # the policy's initial weights
        self.policy = GaussianPolicy(config.hidden_sizes, config.init_log_std).to(self.device)
        self.inner = make_inner_loop(self.policy, config.inner_lr, config.inner_steps).to(self.device)
        self.evaluator = self.suite.adaptation_evaluator(max_steps=min(env.eval_max_steps, config.episode_steps))
        self.iterations = 0

    # ----------------------------------------------------------- protocol
    def progress(self) -> int:
        return self.collector.env_steps

    def step(self, limit: int | None = None) -> dict[str, float]:
        """One iteration: pre-adaptation rollouts, the inner step, post-adaptation rollouts, one TRPO step
        (an iteration cannot be split, so ``limit`` is not consulted)."""
        c = self.config
        pre, pre_success = self._rollouts(None)
        pre_advantage = advantages(pre, c.gamma, c.gae_lambda)
        with torch.no_grad():
            adapted = adapt(self.inner, pre, pre_advantage)
        post, post_success = self._rollouts(adapted)
        metrics = self.outer_step(pre, pre_advantage, post, advantages(post, c.gamma, c.gae_lambda))
        self.iterations += 1
        metrics.update(self.collector.pop_metrics())
        metrics.update({"charts/pre_adaptation_return": float(pre.rewards.sum(-1).mean()), "charts/pre_adaptation_success": pre_success,
                        "charts/post_adaptation_return": float(post.rewards.sum(-1).mean()), "charts/post_adaptation_success": post_success,
                        "charts/action_std": float(self.policy.log_std.detach().exp().mean()), "charts/iterations": float(self.iterations)})
        return metrics

    def evaluate(self) -> EvalReport:
        return self.evaluator(self.agent())

    def agent(self) -> MAMLAgent:
        """The policy as a ``MetaLearningAgent`` (``envs.adaptation``), sampling with its own fixed-seed generator."""
        return MAMLAgent(self.inner, self.device, gamma=self.config.gamma, gae_lambda=self.config.gae_lambda)

    def close(self) -> None:
        self.collector.env.close()
        self.evaluator.close()

    # --------------------------------------------------------- collection
    @torch.no_grad()
    def _rollouts(self, adapted: dict[str, torch.Tensor] | None) -> tuple[Rollouts, float]:
        """One episode in every world with the shared policy (``adapted`` None) or each task's adapted one, and
        the fraction of those episodes that succeeded."""
        c = self.config
        k, r = c.meta_batch, c.rollouts_per_task
        columns: tuple[list, list, list] = ([], [], [])
        for _ in range(c.episode_steps):
            obs = torch.as_tensor(self.collector.obs, dtype=torch.float32, device=self.device).view(k, r, OBS_DIM)
            action = sample(*task_outputs(self.inner, adapted, obs), self.generator)
            transitions = self.collector.step(action.clamp(-1.0, 1.0).view(k * r, ACTION_DIM).cpu().numpy().astype(np.float64))
            reward = torch.as_tensor(transitions.reward, dtype=torch.float32, device=self.device).view(k, r)
            for column, value in zip(columns, (obs, action, reward)):
                column.append(value)
        finished = self.collector.last_finished
        if len(finished) != k * r:
            raise RuntimeError("MAML collection lost its alignment: every world's episode must end with the phase")
        return Rollouts(*(torch.stack(column, dim=2) for column in columns)), float(np.mean([e.success for e in finished]))

    # ------------------------------------------------------------- update
    def outer_step(self, pre: Rollouts, pre_advantage: torch.Tensor, post: Rollouts, post_advantage: torch.Tensor) -> dict[str, float]:
        """TRPO on the post-adaptation surrogate as a function of the policy's parameters through the inner step."""
        c = self.config
        objectives = outer_objectives(self.inner, pre, pre_advantage, post, post_advantage, first_order=c.first_order)
        result = trpo_step(list(self.policy.parameters()), objectives, max_kl=c.max_kl, cg_iterations=c.cg_iterations,
                           damping=c.cg_damping, backtrack_ratio=c.backtrack_ratio, max_backtracks=c.max_backtracks)
        return {"losses/surrogate_before": result.loss_before, "losses/surrogate_after": result.loss_after,
                "charts/kl": result.kl, "charts/backtracks": float(result.backtracks), "charts/step_accepted": float(result.accepted)}

    # ------------------------------------------------------------- resume
    def state_dict(self) -> dict:
        return {
            "policy": self.policy.state_dict(),
            "generator": self.generator.get_state(),
            "schedule": self.schedule.state_dict(),  # holds self.rng's state too
            "collector": self.collector.state_dict(),
            "iterations": self.iterations,
        }

    def load_state_dict(self, state: dict) -> None:
        self.policy.load_state_dict(state["policy"])
        self.generator.set_state(state["generator"].cpu())
        self.schedule.load_state_dict(state["schedule"])
        self.collector.load_state_dict(state["collector"])
        self.iterations = int(state["iterations"])
