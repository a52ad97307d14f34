"""What a learned optimizer remembers about each tensor, and the per-parameter features it reads.

The feature set is the one the per-parameter optimizers of Metz et al.'s
``learned_optimization`` (``AdafacMLPLOpt``) and VeLO (Metz et al., "VeLO:
Training Versatile Learned Optimizers by Scaling Up", 2022, section 3 and
appendix C) feed their per-parameter MLP: the gradient (raw and clipped), the
parameter, momenta at three timescales, a second-moment (RMS) accumulator and
what it normalises, and Adafactor's factored row/column second moments
(Shazeer & Stern 2018) with the gradient and momenta they precondition.  Each
feature is divided by its root mean square over the tensor, so the MLP sees
the same scale whatever the tensor's.

Everything here is a pure function of tensors (no Python branch on values),
so ``torch.func.vmap`` can run many optimizers, for example ES's perturbed
copies, side by side.  A tensor of two or more dimensions is viewed as a
matrix ``[shape[0], rest]`` and gets factored accumulators; a vector or a
scalar gets a full one.

Gradients are clamped to +-``GRADIENT_CLAMP`` first (VeLO's clip), so a huge
but finite gradient gives finite features; zero gradients are finite too
(every reciprocal square root has a floor).  Non-finite gradients are refused
by ``meta.lopt.optimizer.LearnedOptimizer`` before they get here.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["MOMENTUM_DECAYS", "RMS_DECAY", "ADAFACTOR_DECAYS", "GRADIENT_CLAMP", "PARAMETER_FEATURES", "STEP_TIMESCALES",
           "matrix_view", "clamp_gradient", "init_accumulators", "update_accumulators", "parameter_features", "feature_normalizers",
           "normalize_features", "step_count_embedding", "FRACTION_CENTRES", "progress_embedding", "adam_direction"]

MOMENTUM_DECAYS = (0.9, 0.99, 0.999)
RMS_DECAY = 0.999
ADAFACTOR_DECAYS = (0.9, 0.99, 0.999)
GRADIENT_CLAMP = 1000.0
#: g, clip(g), p, m x3, rms, m/sqrt(rms) x3, 1/sqrt(rms), Adafactor-normalised g x3, g/sqrt(rms),
#: row and column accumulators x3 each, their reciprocal square roots x3 each, Adafactor-normalised m x3
PARAMETER_FEATURES = 30
#: step counts the tanh embedding of the iteration is centred on (learned_optimization's timescales)
STEP_TIMESCALES = (1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000)
#: fractions of training the tanh embedding of progress is centred on (VeLO's)
FRACTION_CENTRES = (0.03, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.1)
ADAM_EPSILON = 1e-8


def matrix_view(tensor: Tensor) -> Tensor:
    """``tensor`` as a matrix: ``[shape[0], rest]`` for two or more dimensions, ``[1, numel]`` otherwise."""
    return tensor.reshape(tensor.shape[0], -1) if tensor.dim() >= 2 else tensor.reshape(1, -1)


def _is_factored(param: Tensor) -> bool:
    return param.dim() >= 2


def _decays(values, like: Tensor) -> Tensor:
    return torch.tensor(values, dtype=like.dtype, device=like.device)


def _rsqrt_floor(x: Tensor, floor: float = 1e-9) -> Tensor:
    return torch.rsqrt(torch.clamp(x, min=floor))


def init_accumulators(param: Tensor) -> dict[str, Tensor]:
    """Zeroed accumulators for ``param``: momenta ``m``, ``rms``, and ``row``/``col`` (matrices) or ``v``."""
    matrix = matrix_view(param)
    rows, cols = matrix.shape
    state = {"m": matrix.new_zeros(rows, cols, len(MOMENTUM_DECAYS)), "rms": matrix.new_zeros(rows, cols, 1)}
    if _is_factored(param):
        state["row"] = matrix.new_zeros(rows, len(ADAFACTOR_DECAYS))
        state["col"] = matrix.new_zeros(cols, len(ADAFACTOR_DECAYS))
    else:
        state["v"] = matrix.new_zeros(rows, cols, len(ADAFACTOR_DECAYS))
    return state


def clamp_gradient(grad: Tensor) -> Tensor:
    return torch.clamp(grad, -GRADIENT_CLAMP, GRADIENT_CLAMP)


def update_accumulators(state: dict[str, Tensor], grad: Tensor) -> dict[str, Tensor]:
    """The accumulators after one more (clamped) gradient."""
    g = matrix_view(clamp_gradient(grad))
    momentum = _decays(MOMENTUM_DECAYS, g)
    adafactor = _decays(ADAFACTOR_DECAYS, g)
    squared = g.square() + 1e-30
    new = {"m": momentum * state["m"] + (1 - momentum) * g[..., None],
           "rms": RMS_DECAY * state["rms"] + (1 - RMS_DECAY) * squared[..., None]}
    if "row" in state:
        new["row"] = adafactor * state["row"] + (1 - adafactor) * squared.mean(1, keepdim=True)
        new["col"] = adafactor * state["col"] + (1 - adafactor) * squared.mean(0)[:, None]
    else:
        new["v"] = adafactor * state["v"] + (1 - adafactor) * squared[..., None]
    return new


def parameter_features(param: Tensor, grad: Tensor, state: dict[str, Tensor]) -> Tensor:
    """``[numel, PARAMETER_FEATURES]`` raw features of every element, from the accumulators already updated with ``grad``."""
    p, g = matrix_view(param), matrix_view(clamp_gradient(grad))
    m, rms = state["m"], state["rms"]
    rms_rsqrt = torch.rsqrt(rms + 1e-6)
    if "row" in state:
        row, col = state["row"][:, None, :].expand_as(m), state["col"][None, :, :].expand_as(m)
        row_mean = state["row"].mean(0, keepdim=True)
        # Adafactor's estimate of the second moment: the outer product of row and column means over the row mean
        second_moment = state["row"][:, None, :] * state["col"][None, :, :] / (row_mean[:, None, :] + 1e-30)
        row_factor = _rsqrt_floor(state["row"] / (row_mean + 1e-9))[:, None, :]
        factored_momentum = m * row_factor * _rsqrt_floor(state["col"])[None, :, :]
    else:
        row = col = second_moment = state["v"]
        factored_momentum = m * _rsqrt_floor(state["v"])
    g1 = g[..., None]
    features = [g1, torch.clamp(g1, -0.1, 0.1), p[..., None], m, rms, m * rms_rsqrt, rms_rsqrt,
                g1 * _rsqrt_floor(second_moment), g1 * rms_rsqrt, row, col,
                torch.rsqrt(row + 1e-8), torch.rsqrt(col + 1e-8), factored_momentum]
    return torch.cat(features, dim=-1).reshape(-1, PARAMETER_FEATURES)


def feature_normalizers(features: Tensor) -> Tensor:
    """``[features]``: one over each feature's root mean square across the tensor's elements."""
    return torch.rsqrt(1e-5 + features.square().mean(0))


def normalize_features(features: Tensor) -> Tensor:
    """Each feature over its root mean square across the tensor's elements (the papers' second-moment normaliser)."""
    return features * feature_normalizers(features)


def step_count_embedding(iteration: Tensor) -> Tensor:
    """``tanh(t / s - 1)`` for each timescale s: which phase of training the optimizer is in, bounded in (-1, 1)."""
    scales = torch.tensor(STEP_TIMESCALES, dtype=torch.float32, device=iteration.device)
    return torch.tanh(iteration.to(torch.float32) / scales - 1)


def progress_embedding(fraction_trained: Tensor) -> Tensor:
    """``tanh(10 (f - c))`` for each of ``FRACTION_CENTRES``: how far through its training the optimizer is."""
    centres = torch.tensor(FRACTION_CENTRES, device=fraction_trained.device)
    return torch.tanh((fraction_trained.to(torch.float32) - centres) * 10)


def adam_direction(state: dict[str, Tensor], iteration: Tensor) -> Tensor:
    """``[numel]`` Adam's bias-corrected ``m / (sqrt(v) + eps)`` (beta1 0.9, beta2 0.999) from the accumulators.

    ``iteration`` counts the steps before this one; the accumulators hold this
    step's gradient already (``update_accumulators``)."""
    t = iteration.to(state["m"].dtype) + 1
    first = state["m"][..., 0] / (1 - MOMENTUM_DECAYS[0] ** t)
    second = state["rms"][..., 0] / (1 - RMS_DECAY ** t)
    return (first / (torch.sqrt(second) + ADAM_EPSILON)).reshape(-1)
