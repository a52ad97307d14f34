"""MAML for policies: the policy-gradient inner step, and MAML as a ``MetaLearningAgent``.

Finn, Abbeel & Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of
Deep Networks" (ICML 2017), Sec. 3.2 and Algorithm 3: for each task of a
meta-batch, sample K rollouts with the policy f_theta, take the inner step
theta' = theta - alpha grad L(theta) on the REINFORCE loss of those rollouts
(Eq. 4, with a linear feature baseline), sample rollouts with f_theta', and
meta-optimize theta through the inner step on the post-adaptation rollouts
(``meta.rl.maml_trpo`` does that with TRPO).

The inner step runs through the project's functional inner loop
(``meta.inner_loop.InnerLoop``: ``torch.func`` transforms, vmapped over the
tasks of a meta-batch, no module clones) with a fixed rate alpha: garage's and
metaworld-algorithms' MAML-TRPO learn no inner rate. With more than one inner
step, every step reuses the same pre-adaptation rollouts (as supervised MAML
reuses its support set) rather than sampling new ones in between.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
import torch
from torch import Tensor

from meta.inner_loop import InnerLoop
from meta.rl import baseline
from meta.rl.gaussian_policy import GaussianPolicy, kl_divergence, log_likelihood, sample
from meta.rl.ppo import generalized_advantages


class Rollouts(NamedTuple):
    """Episodes of every task of a batch, all of ``steps`` steps: task k's are row k."""

    obs: Tensor  #: [K, episodes, steps, 39] what the policy saw
    actions: Tensor  #: [K, episodes, steps, 4] the sampled (unclipped) actions
    rewards: Tensor  #: [K, episodes, steps]

    def flat(self, x: Tensor) -> Tensor:
        """[K, episodes, steps, ...] -> [K, episodes * steps, ...]: a task's samples in one axis."""
        return x.flatten(1, 2)


def policy_gradient_loss(prediction: tuple[Tensor, Tensor], target: tuple[Tensor, Tensor]) -> Tensor:
    """The inner loss: minus the mean of log pi(a | s) times the advantage (REINFORCE, Williams 1992)."""
    (mean, log_std), (actions, advantages) = prediction, target
    return -(log_likelihood(mean, log_std, actions) * advantages).mean()


def make_inner_loop(policy: GaussianPolicy, inner_lr: float, inner_steps: int) -> InnerLoop:
    """Every policy parameter adapts, at the fixed rate ``inner_lr``."""
    return InnerLoop(policy, [name for name, _ in policy.named_parameters()], steps=inner_steps, lr_init=inner_lr,
                     learn_lr=False, loss=policy_gradient_loss)


def advantages(rollouts: Rollouts, gamma: float, gae_lambda: float) -> Tensor:
    """GAE(gamma, lambda) advantages [K, episodes, steps] against each task's linear feature baseline, fitted to
    that task's discounted returns, normalized per task (garage's ``center_adv``). Episodes end at their last step
    without bootstrapping, as garage's and metaworld-algorithms' MAML treat a time limit."""
    k, episodes, steps = rollouts.rewards.shape
    rewards = rollouts.rewards.reshape(k * episodes, steps)
    ends = torch.zeros_like(rewards, dtype=torch.bool)
    ends[:, -1] = True
    last = torch.zeros_like(rewards[:, 0])
    values = baseline.fitted_values(rollouts.obs, rollouts.rewards, gamma).reshape(k * episodes, steps)
    advantage = generalized_advantages(rewards, values, ends, last, gamma, gae_lambda).reshape(k, -1)
    advantage = (advantage - advantage.mean(1, keepdim=True)) / (advantage.std(1, keepdim=True) + 1e-8)
    return advantage.reshape(k, episodes, steps)


def adapt(inner: InnerLoop, rollouts: Rollouts, advantage: Tensor, *, first_order: bool = False) -> dict[str, Tensor]:
    """Every task's adapted parameters (a leading task axis) after the inner step on its rollouts, differentiable
    with respect to the policy's parameters unless ``first_order`` (or computed under ``torch.no_grad``)."""
    targets = (rollouts.flat(rollouts.actions), rollouts.flat(advantage))
    return inner.batch_adapt(rollouts.flat(rollouts.obs), targets, first_order=first_order)


def task_outputs(inner: InnerLoop, adapted: dict[str, Tensor] | None, obs: Tensor) -> tuple[Tensor, Tensor]:
    """(means, log stds) of every task's policy on its observations [K, M, 39]; ``adapted`` None: the unadapted one."""
    if adapted is None:
        return inner.model(obs)
    return inner.batch_predict(adapted, obs)


def outer_objectives(inner: InnerLoop, pre: Rollouts, pre_advantage: Tensor, post: Rollouts, post_advantage: Tensor, *,
                     first_order: bool = False) -> Callable[[], tuple[Tensor, Tensor]]:
    """MAML's outer objectives as one closure over the policy's current parameters: ``() -> (surrogate_loss, mean_kl)``.

    It reruns the inner step on the pre-adaptation rollouts (once for both), so both are functions of the initial
    parameters through it. The surrogate loss is minus the mean over tasks and post-adaptation samples of the
    probability ratio of the adapted policy to the adapted policy at the time of this call, times the advantage
    (Schulman et al., 2015, Eq. 14); the KL is the mean divergence from that policy to the adapted policy now.
    """
    post_obs, post_actions, post_advantage = post.flat(post.obs), post.flat(post.actions), post.flat(post_advantage)

    def adapted_outputs() -> tuple[Tensor, Tensor]:
        return task_outputs(inner, adapt(inner, pre, pre_advantage, first_order=first_order), post_obs)

    with torch.no_grad():
        old_mean, old_log_std = adapted_outputs()
        old_log_prob = log_likelihood(old_mean, old_log_std, post_actions)

    def objectives() -> tuple[Tensor, Tensor]:
        mean, log_std = adapted_outputs()
        ratio = torch.exp(log_likelihood(mean, log_std, post_actions) - old_log_prob)
        return -(ratio * post_advantage).mean(), kl_divergence(old_mean, old_log_std, mean, log_std).mean()

    return objectives


class MAMLAgent:
    """MAML under the adapt-then-evaluate protocol (``envs.adaptation``).

    ``init()`` returns every world to the meta-learned policy; adaptation samples
    from it (the inner step needs the exploration it was meta-trained with) and
    keeps each world's episodes; ``adapt()`` takes the inner step per world on
    all of its adaptation episodes, as training takes it on a task's rollouts;
    ``eval_action`` acts with the mean of each world's adapted policy (of the
    unadapted one before ``adapt()``), so an evaluation is deterministic given
    the adaptation episodes, whose noise comes from the agent's own fixed-seed
    generator.
    """

    def __init__(self, inner: InnerLoop, device, *, gamma: float, gae_lambda: float, seed: int = 0):
        self.inner, self.device, self.gamma, self.gae_lambda = inner, torch.device(device), gamma, gae_lambda
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.init()

    def init(self) -> None:
        self.adapted: dict[str, Tensor] | None = None
        self.episodes: list[tuple[Tensor, Tensor, Tensor]] = []  # per adaptation episode: obs, actions, rewards [N, T, ...]
        self.current: list[tuple[Tensor, Tensor, Tensor]] = []

    def _obs(self, obs: np.ndarray) -> Tensor:
        return torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)

    @torch.no_grad()
    def adapt_action(self, obs: np.ndarray) -> tuple[np.ndarray, dict]:
        mean, log_std = self.inner.model(self._obs(obs))
        action = sample(mean, log_std, self.generator)
        return action.clamp(-1.0, 1.0).cpu().numpy().astype(np.float64), {"sample": action}

    def step(self, timestep) -> None:
        if "sample" not in timestep.aux_policy_outputs:  # an evaluation step: nothing to learn from
            return
        reward = torch.as_tensor(np.asarray(timestep.reward), dtype=torch.float32, device=self.device)
        self.current.append((self._obs(timestep.observation), timestep.aux_policy_outputs["sample"], reward))
        if (np.asarray(timestep.terminated) | np.asarray(timestep.truncated)).all():
            self.episodes.append(tuple(torch.stack(column, dim=1) for column in zip(*self.current)))
            self.current = []

    def adapt(self) -> None:
        if not self.episodes:
            raise RuntimeError("MAMLAgent.adapt() needs at least one finished adaptation episode since init()")
        rollouts = Rollouts(*(torch.stack(column, dim=1) for column in zip(*self.episodes)))  # [N, E, T, ...]
        with torch.no_grad():
            self.adapted = adapt(self.inner, rollouts, advantages(rollouts, self.gamma, self.gae_lambda))

    @torch.no_grad()
    def eval_action(self, obs: np.ndarray) -> np.ndarray:
        obs = self._obs(obs)
        if self.adapted is None:
            mean, _ = self.inner.model(obs)
        else:
            mean, _ = task_outputs(self.inner, self.adapted, obs.unsqueeze(1))
            mean = mean.squeeze(1)
        return mean.clamp(-1.0, 1.0).cpu().numpy().astype(np.float64)

    def reset(self, env_mask: np.ndarray) -> None:
        """Nothing to do: MAML's adapted policy does not change within or between evaluation episodes."""
