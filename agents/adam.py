"""Adam as a pure in-place function of tensors, so that it compiles inside a whole update.

``torch.optim.Adam`` steps from ``.grad`` fields and keeps its step count as
a Python number or a tensor it updates outside any graph; its fused kernel
(``torch._fused_adam_``) does not pass through ``torch.compile``'s
functionalization. This is Kingma & Ba's (2015, Algorithm 1) update with
torch's arrangement of it (bias corrections applied to the step size and to
the second moment's square root, ``eps`` outside the root), written with
``torch._foreach_*`` ops: one op per step of the rule for all parameters,
cheap eagerly and fused when compiled. The step count is a tensor, so a
compiled update sees no new constant per step.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor


class AdamState:
    """First and second moments and the step count of a set of named parameters (the step's
    hyperparameters are the caller's: :func:`adam_step_` takes them)."""

    def __init__(self, params: Mapping[str, Tensor]):
        self.names = list(params)
        self.exp_avg = {name: torch.zeros_like(p) for name, p in params.items()}
        self.exp_avg_sq = {name: torch.zeros_like(p) for name, p in params.items()}
        device = next(iter(params.values())).device
        self.step = torch.zeros((), device=device)

    def tensors(self) -> dict:
        """What an update reads and writes in place."""
        return {"exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq, "step": self.step}

    def state_dict(self) -> dict:
        return {"exp_avg": {k: v.detach().cpu().clone() for k, v in self.exp_avg.items()},
                "exp_avg_sq": {k: v.detach().cpu().clone() for k, v in self.exp_avg_sq.items()},
                "step": self.step.detach().cpu().clone()}

    def load_state_dict(self, state: dict) -> None:
        if sorted(state["exp_avg"]) != sorted(self.names):
            raise ValueError(f"Adam state of parameters {sorted(state['exp_avg'])}, expected {sorted(self.names)}")
        with torch.no_grad():
            for name in self.names:
                self.exp_avg[name].copy_(state["exp_avg"][name])
                self.exp_avg_sq[name].copy_(state["exp_avg_sq"][name])
            self.step.copy_(state["step"])


def adam_step_(params: Mapping[str, Tensor], grads: Mapping[str, Tensor], state: dict, lr: float,
               betas: tuple[float, float], eps: float) -> None:
    """One Adam step of ``params`` along ``grads``, in place (``state``: ``AdamState.tensors()``)."""
    beta1, beta2 = betas
    names = list(params)
    values, gradients = [params[n] for n in names], [grads[n] for n in names]
    exp_avg, exp_avg_sq = [state["exp_avg"][n] for n in names], [state["exp_avg_sq"][n] for n in names]
    step = state["step"]
    step.add_(1)
    torch._foreach_lerp_(exp_avg, gradients, 1 - beta1)
    torch._foreach_mul_(exp_avg_sq, beta2)
    torch._foreach_addcmul_(exp_avg_sq, gradients, gradients, 1 - beta2)
    bias_correction1 = 1 - beta1**step
    bias_correction2_sqrt = (1 - beta2**step).sqrt()
    denominators = torch._foreach_sqrt(exp_avg_sq)
    torch._foreach_div_(denominators, bias_correction2_sqrt)
    torch._foreach_add_(denominators, eps)
    steps = torch._foreach_div(exp_avg, denominators)
    torch._foreach_mul_(steps, lr / bias_correction1)
    torch._foreach_sub_(values, steps)
