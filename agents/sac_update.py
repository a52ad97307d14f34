"""One multi-task SAC update as a pure in-place function of tensors, compiled whole where it pays.

The update (Haarnoja et al., "Soft Actor-Critic Algorithms and Applications",
2018: Eq. 5-7 for the critic and actor losses, Eq. 18 for the temperature,
with Yu et al.'s per-task temperatures for MT-SAC) reads and writes nothing
but the tensors it is given: network parameters (``agents.networks``' pure
forwards), Adam moments (``agents.adam``), the surgeries' state, a
task-balanced batch, and noise and surgery draws taken eagerly from the
learner's generators. So ``torch.compile(fullgraph=True)`` turns the whole
update, both surgeries' per-task gradients included, into one graph: on CPU,
Inductor fuses its hundreds of small ops into a few dozen kernels around the
matmuls; on CUDA, ``mode="reduce-overhead"`` replays it as a CUDA graph. The
same function runs eagerly when compilation is off (``--algorithm.compile
off``) or unavailable, so both paths are one piece of code.

Order of one update: the soft TD target from the target critic; the critic's
step (through its surgery); the actor's step against the updated critic
(through its surgery); the temperatures' step from the log-probabilities of
the actor loss's own samples, as in the paper's algorithm and
stable-baselines3 (one actor forward fewer than sampling again); Polyak
averaging of the target critic.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Literal

import torch
import torch._dynamo
from torch import Tensor

from agents.adam import adam_step_
from agents.buffer import TransitionBatch
from agents.networks import actor_forward, critic_forward
from agents.surgery import GradientSurgery, combined_gradient

CompileMode = Literal["auto", "on", "off"]


@dataclasses.dataclass(frozen=True)
class SACHyperparameters:
    gamma: float
    tau: float
    actor_lr: float
    critic_lr: float
    temperature_lr: float
    target_entropy: float
    multi_head: bool
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8


def sac_update(state: dict, batch: TransitionBatch, next_noise: Tensor, policy_noise: Tensor, critic_draw: Tensor | None,
               actor_draw: Tensor | None, hp: SACHyperparameters, critic_surgery: GradientSurgery,
               actor_surgery: GradientSurgery) -> dict[str, Tensor]:
    """One update of ``state`` in place; returns its metrics as 0-d tensors (see the module docstring)."""
    actor, critic, target_critic = state["actor"], state["critic"], state["critic_target"]
    log_temperature, multi_head = state["log_temperature"], hp.multi_head
    temperature = log_temperature.exp()
    target = soft_td_target(actor, target_critic, batch, next_noise, temperature, hp)

    def critic_losses(params, task_batch):
        """Each task's mean squared TD error of both Q networks, over leading (task) axes."""
        obs, action, task_target, task_id = task_batch
        q = critic_forward(params, obs, action, task_id, multi_head)
        return (q - task_target.unsqueeze(-1)).pow(2).sum(-1).mean(-1)

    critic_batch = (batch.obs, batch.action, target, batch.task_id)
    gradient, critic_loss, _, critic_metrics = combined_gradient(
        critic_surgery, critic, critic_losses, critic_batch, critic_draw, state["critic_surgery"], all_task_losses=critic_losses)
    adam_step_(critic, gradient, state["critic_adam"], hp.critic_lr, hp.betas, hp.eps)
    if critic_surgery.needs_new_losses:
        critic_surgery.after_step(state["critic_surgery"], critic_loss, critic_losses(critic, critic_batch))

    def actor_losses(params, task_batch):
        """Each task's ``alpha log pi - min Q`` against the updated critic, and the log-probabilities."""
        obs, noise, task_temperature, task_id = task_batch
        action, log_prob = actor_forward(params, obs, task_id, noise, multi_head)
        q = critic_forward(critic, obs, action, task_id, multi_head).min(-1).values
        return (task_temperature.unsqueeze(-1) * log_prob - q).mean(-1), log_prob

    actor_batch = (batch.obs, policy_noise, temperature, batch.task_id)
    gradient, actor_loss, log_prob, actor_metrics = combined_gradient(
        actor_surgery, actor, actor_losses, actor_batch, actor_draw, state["actor_surgery"], all_task_losses=actor_losses, has_aux=True)
    adam_step_(actor, gradient, state["actor_adam"], hp.actor_lr, hp.betas, hp.eps)

    # the temperature loss -(log alpha_t (log pi + target entropy)) is linear in log alpha_t: its gradient is exact here
    entropy_gap = (log_prob.detach() + hp.target_entropy).mean(-1)
    temperature_loss = -(log_temperature * entropy_gap).sum() / temperature.shape[0]  # before its step, as the other losses
    adam_step_({"log_temperature": log_temperature}, {"log_temperature": -entropy_gap}, state["temperature_adam"],
               hp.temperature_lr, hp.betas, hp.eps)
    torch._foreach_lerp_(list(target_critic.values()), list(critic.values()), hp.tau)

    metrics = {
        "losses/critic": critic_loss.mean(),
        "losses/actor": actor_loss.mean(),
        "losses/temperature": temperature_loss,
        "charts/temperature": temperature.mean(),
        "charts/entropy": -log_prob.mean(),
        "charts/target_q": target.mean(),
    }
    for prefix, surgery_metrics in (("critic", critic_metrics), ("actor", actor_metrics)):
        metrics.update({f"charts/{prefix}_{name}": value for name, value in surgery_metrics.items()})
    return metrics


def soft_td_target(actor: dict, target_critic: dict, batch: TransitionBatch, next_noise: Tensor, temperature: Tensor,
                   hp: SACHyperparameters) -> Tensor:
    """``r + gamma (1 - terminated) (min Q_target(s', a') - alpha log pi(a'|s'))``, ``[T, B]``:
    it bootstraps through a truncation (a time limit), not through a termination."""
    next_action, next_log_prob = actor_forward(actor, batch.next_obs, batch.task_id, next_noise, hp.multi_head)
    next_q = critic_forward(target_critic, batch.next_obs, next_action, batch.task_id, hp.multi_head).min(-1).values
    soft_value = next_q - temperature.unsqueeze(-1) * next_log_prob
    return batch.reward + hp.gamma * (1.0 - batch.terminated) * soft_value


def resolve_compile(mode: CompileMode, device: torch.device) -> bool:
    """``auto`` compiles on CUDA and on CPU where a C++ compiler is found (Inductor needs one)."""
    if mode == "off":
        return False
    if mode == "on" or device.type == "cuda":
        return True
    from torch._inductor import cpp_builder

    try:
        cpp_builder.get_cpp_compiler()
        return True
    except Exception:  # no compiler on this machine: eager it is, and say so
        warnings.warn("no C++ compiler found for torch.compile on CPU; MTSAC updates run eagerly", stacklevel=2)
        return False


class CompiledUpdate:
    """``sac_update`` compiled once per process and configuration (falling back to eager, with a
    warning, if compilation fails).

    The first call compiles (the warm-up); later calls skip Dynamo's guard
    evaluation (``skip_guard_eval_unsafe``), which re-checks every one of the
    update's ~100 input tensors at every call although their shapes, dtypes
    and devices are fixed by the learner's config: about 0.5 ms of a 6 ms
    update on CPU. ``tests/test_sac_update.py`` checks that no call after the
    warm-up compiles again.
    """

    def __init__(self, device: torch.device, enabled: bool):
        self.enabled, self.device = enabled, device
        self.calls = 0
        self._compiled = None
        if enabled:
            # every learner configuration (sizes, task count, surgery, constants) is a graph of its own; a process
            # holding several (tests, benchmarks/update_speed.py) needs more than Dynamo's default of 8
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
            # CUDA: replay as a CUDA graph (the state tensors are marked static and updated in place); CPU: Inductor's fused kernels
            mode = "reduce-overhead" if device.type == "cuda" else None
            self._compiled = torch.compile(sac_update, fullgraph=True, dynamic=False, mode=mode)

    def prepare(self, state: dict) -> None:
        """Mark the state tensors as static addresses, which CUDA graphs need to update them in place."""
        if self._compiled is not None and self.device.type == "cuda":
            for tensor in _tensors(state):
                torch._dynamo.mark_static_address(tensor)

    def __call__(self, *args) -> dict[str, Tensor]:
        self.calls += 1
        if self._compiled is None:
            return sac_update(*args)
        if self.calls > 1:
            with torch.compiler.set_stance("default", skip_guard_eval_unsafe=True):
                return self._compiled(*args)
        try:
            return self._compiled(*args)
        except Exception as error:
            # compilation failed before the graph ran, so the state is untouched: carry on eagerly
            warnings.warn(f"torch.compile of the SAC update failed ({type(error).__name__}: {error}); running it eagerly", stacklevel=2)
            self._compiled = None
            return sac_update(*args)


def _tensors(tree) -> list[Tensor]:
    if isinstance(tree, Tensor):
        return [tree]
    if isinstance(tree, dict):
        return [t for value in tree.values() for t in _tensors(value)]
    return []
