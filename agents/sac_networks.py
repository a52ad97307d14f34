"""The tensors of multi-task SAC and their update, apart from any environment.

``SACNetworks(config, num_tasks, device, seed)`` holds the actor, the twin
critic and its target, the per-task log temperatures, their Adam states and
the two gradient surgeries (critic and actor), and runs one update on a
task-balanced batch through ``agents.sac_update`` (compiled or eager, as
``config.compile`` says). ``MTSAC`` adds collection and replay to it;
``benchmarks/update_speed.py`` times it on synthetic batches.
"""

from __future__ import annotations

import math

import torch

from agents.adam import AdamState
from agents.buffer import TransitionBatch
from agents.networks import TanhGaussianActor, TwinCritic, frozen_copy
from agents.sac_update import CompiledUpdate, SACHyperparameters, resolve_compile, soft_td_target
from agents.surgery import GradientSurgery, make_surgery
from envs.layout import ACTION_DIM, OBS_DIM


class SACNetworks:
    """See the module docstring; ``config`` is an ``agents.mtsac.MTSACConfig``."""

    def __init__(self, config, num_tasks: int, device: torch.device, seed: int):
        self.config, self.num_tasks, self.device = config, num_tasks, torch.device(device)
        # its own generator (buffer samples, noise): a run is a function of its seed and resumes exactly
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.actor = TanhGaussianActor(OBS_DIM, ACTION_DIM, num_tasks, config.hidden_sizes, config.conditioning).to(self.device)
            self.critic = TwinCritic(OBS_DIM, ACTION_DIM, num_tasks, config.hidden_sizes, config.conditioning).to(self.device)
        # no autograd graph is ever built on these: updates take gradients with torch.func
        for module in (self.actor, self.critic):
            module.requires_grad_(False)
        self.critic_target = frozen_copy(self.critic)
        self.log_temperature = torch.full((num_tasks,), math.log(config.initial_temperature), device=self.device)
        self.actor_adam = AdamState(self.actor.params())
        self.critic_adam = AdamState(self.critic.params())
        self.temperature_adam = AdamState({"log_temperature": self.log_temperature})
        self.critic_surgery = self._make_surgery(seed, loss_floor_known=True)
        self.actor_surgery = self._make_surgery(seed + 1, loss_floor_known=False)
        self.hyperparameters = SACHyperparameters(
            gamma=config.gamma, tau=config.tau, actor_lr=config.actor_lr, critic_lr=config.critic_lr,
            temperature_lr=config.temperature_lr, target_entropy=-float(ACTION_DIM), multi_head=config.conditioning == "multi_head")
        self._update = CompiledUpdate(self.device, resolve_compile(config.compile, self.device))
        self._update.prepare(self.update_state())

    def _make_surgery(self, seed: int, loss_floor_known: bool) -> GradientSurgery:
        c, name = self.config, self.config.surgery
        options = {"pcgrad": {"reduction": c.pcgrad_reduction}, "cagrad": {"c": c.cagrad_c},
                   "famo": {"beta": c.famo_beta, "gamma": c.famo_gamma, "loss_floor": 0.0}}.get(name, {})
        if name == "famo" and not loss_floor_known:
            # FAMO needs positive losses with a known floor (Liu et al. 2023, Sec. 3); the critic's
            # squared TD errors have floor 0, SAC's actor loss has none: it takes the plain mean.
            name, options = "none", {}
        return make_surgery(name, self.num_tasks, self.device, seed=seed, **options)

    @property
    def compiled(self) -> bool:
        return self._update.enabled

    def update_state(self) -> dict:
        """The tensors one update reads and writes in place (``agents.sac_update``)."""
        return {
            "actor": self.actor.params(), "critic": self.critic.params(), "critic_target": self.critic_target.params(),
            "log_temperature": self.log_temperature,
            "actor_adam": self.actor_adam.tensors(), "critic_adam": self.critic_adam.tensors(),
            "temperature_adam": self.temperature_adam.tensors(),
            "critic_surgery": self.critic_surgery.state_tensors(), "actor_surgery": self.actor_surgery.state_tensors(),
        }

    def soft_td_target(self, batch: TransitionBatch, next_noise: torch.Tensor, temperature: torch.Tensor) -> torch.Tensor:
        """The critic's regression target ``[T, B]`` (``agents.sac_update.soft_td_target``)."""
        return soft_td_target(self.actor.params(), self.critic_target.params(), batch, next_noise, temperature, self.hyperparameters)

    def update(self, batch: TransitionBatch) -> dict[str, torch.Tensor]:
        """One SAC update on a task-balanced batch ``[T, B, ...]``; metrics stay on the device."""
        shape = (*batch.action.shape[:-1], ACTION_DIM)
        next_noise = torch.randn(shape, generator=self.generator, device=self.device)
        policy_noise = torch.randn(shape, generator=self.generator, device=self.device)
        return self._update(self.update_state(), batch, next_noise, policy_noise, self.critic_surgery.draw(),
                            self.actor_surgery.draw(), self.hyperparameters, self.critic_surgery, self.actor_surgery)

    # ------------------------------------------------------------- resume
    def state_dict(self) -> dict:
        return {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "log_temperature": self.log_temperature.detach().cpu().clone(),
            "actor_adam": self.actor_adam.state_dict(),
            "critic_adam": self.critic_adam.state_dict(),
            "temperature_adam": self.temperature_adam.state_dict(),
            "critic_surgery": self.critic_surgery.state_dict(),
            "actor_surgery": self.actor_surgery.state_dict(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        # copied into the existing tensors: the (compiled) update keeps reading the same ones
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.critic_target.load_state_dict(state["critic_target"])
        self.log_temperature.copy_(state["log_temperature"])
        self.actor_adam.load_state_dict(state["actor_adam"])
        self.critic_adam.load_state_dict(state["critic_adam"])
        self.temperature_adam.load_state_dict(state["temperature_adam"])
        self.critic_surgery.load_state_dict(state["critic_surgery"])
        self.actor_surgery.load_state_dict(state["actor_surgery"])
        self.generator.set_state(state["generator"])
