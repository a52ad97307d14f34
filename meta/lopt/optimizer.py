"""A learned optimizer as a ``torch.optim.Optimizer``: drop it in where Adam was.

    model = build_meta_model("mlp", {}) or load_meta_weights("runs/lopt-mlp-s1/meta_weights.pt")
    optimizer = LearnedOptimizer(net.parameters(), model, total_steps=1000)
    loss = criterion(net(x), y); loss.backward(); optimizer.step(loss=loss)

It runs the meta-model's pure ``step`` (``meta.lopt.model``) on every
parameter that has a gradient, all of them at once (VeLO's tensor LSTM pools
over every tensor), under ``no_grad``; the meta-weights are not trained here.
Its state (each parameter's accumulators, the step count and the loss
buffer) lives in ``self.state`` and goes through ``state_dict`` like Adam's,
so a checkpoint resumes bit-exactly.  ``total_steps`` is the training length
VeLO's progress features are relative to.

Refused with a clear error: parameters that are not float32 or float64 (keep
float32 master weights for half-precision training), sparse gradients, and a
gradient with a NaN or an infinity (the model has diverged; carrying on
would put NaN into every accumulator).  Huge finite gradients are clamped
(``meta.lopt.accumulators.GRADIENT_CLAMP``).
"""

from __future__ import annotations

import torch

from meta.lopt.model import LearnedOptimizerModel

__all__ = ["LearnedOptimizer", "SUPPORTED_DTYPES"]

SUPPORTED_DTYPES = (torch.float32, torch.float64)
GLOBAL = "global"  # the key of the state shared by all parameters (state_dict keeps non-tensor keys as they are)


class LearnedOptimizer(torch.optim.Optimizer):
    def __init__(self, params, model: LearnedOptimizerModel, total_steps: int = 10_000) -> None:
        if not isinstance(model, LearnedOptimizerModel):
            raise TypeError(f"model must be a LearnedOptimizerModel (meta.lopt), got {type(model).__name__}")
        if total_steps < 1:
            raise ValueError(f"total_steps must be positive, got {total_steps}")
        super().__init__(params, {"total_steps": total_steps})
        for index, param in enumerate(p for group in self.param_groups for p in group["params"]):
            if param.dtype not in SUPPORTED_DTYPES:
                raise ValueError(f"parameter {index} (shape {tuple(param.shape)}) has dtype {param.dtype}; a learned "
                                 f"optimizer takes float32 or float64 parameters (keep float32 master weights)")
        self.model, self.total_steps = model, total_steps

    @torch.no_grad()
    def step(self, closure=None, *, loss: torch.Tensor | float | None = None):
        """One update of every parameter with a gradient; ``loss`` (or the closure's) feeds VeLO's loss features."""
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        params = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
        if not params:
            return loss
        for index, param in enumerate(params):
            if param.grad.is_sparse:
                raise ValueError(f"parameter {index} has a sparse gradient; a learned optimizer needs dense ones")
        finite = torch.stack([torch.isfinite(p.grad).all() for p in params]).all()
        if not bool(finite):
            bad = [i for i, p in enumerate(params) if not bool(torch.isfinite(p.grad).all())]
            raise ValueError(f"non-finite gradient (NaN or inf) in parameters {bad}: the model has diverged; "
                             "lower the loss scale or restore a checkpoint")
        device = params[0].device
        theta = {name: value.to(device) for name, value in self.model.theta().items()}
        if GLOBAL not in self.state:
            self.state[GLOBAL] = self.model.init_global_state(device)
        for param in params:
            if not self.state[param]:
                self.state[param] = self.model.init_tensor_state(param)
        global_state = self.state[GLOBAL]
        fraction = global_state["iteration"] / self.total_steps
        loss_tensor = None if loss is None else torch.as_tensor(loss, dtype=torch.float32, device=device).detach()
        new_params, new_states, self.state[GLOBAL] = self.model.step(
            theta, params, [p.grad for p in params], [self.state[p] for p in params], global_state,
            fraction_trained=fraction, loss=loss_tensor)
        for param, new_param, new_state in zip(params, new_params, new_states):
            param.copy_(new_param)
            self.state[param] = new_state
        return loss
