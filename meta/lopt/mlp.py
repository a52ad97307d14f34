"""A per-parameter MLP learned optimizer (Metz et al.'s ``AdafacMLPLOpt`` of ``learned_optimization``).

Every element of every tensor gets the same small MLP (two hidden layers of
32 by default) over its normalised features (``meta.lopt.accumulators``: the
gradient, momenta at three timescales, RMS and Adafactor accumulators) and a
tanh embedding of the step count, and moves by ``direction * exp(0.001 *
magnitude) * 0.001``, the MLP's two outputs (Metz et al., "Tasks, stability,
architecture, and compute: Training more effective learned optimizers", 2020,
section 3; ``AdafacMLPLOpt``'s defaults).  It is batched over a tensor's
elements: one matrix product per layer, no Python loop over elements.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from meta.lopt.accumulators import (PARAMETER_FEATURES, STEP_TIMESCALES, feature_normalizers, parameter_features,
                                    step_count_embedding)
from meta.lopt.model import LearnedOptimizerModel, direction_times_magnitude, per_parameter_mlp, register_architecture

__all__ = ["MLPOptimizer"]


def _layer_sizes(inputs: int, hidden: tuple[int, ...], outputs: int) -> list[tuple[int, int]]:
    sizes = (inputs, *hidden, outputs)
    return list(zip(sizes[:-1], sizes[1:]))


@register_architecture
class MLPOptimizer(LearnedOptimizerModel):
    """Meta-weights: the per-parameter MLP's layers ``w{i}``, ``b{i}``."""

    architecture = "mlp"

    def __init__(self, hidden: tuple[int, ...] = (32, 32), exp_mult: float = 0.001, step_mult: float = 0.001) -> None:
        super().__init__()
        self.hidden, self.exp_mult, self.step_mult = tuple(hidden), exp_mult, step_mult
        inputs = PARAMETER_FEATURES + len(STEP_TIMESCALES)
        for index, (fan_in, fan_out) in enumerate(_layer_sizes(inputs, self.hidden, 2)):
            # truncated-normal fan-in init, as the reference optimizers start from
            weight = nn.init.trunc_normal_(torch.empty(fan_in, fan_out), std=1 / math.sqrt(fan_in))
            self.register_parameter(f"w{index}", nn.Parameter(weight))
            self.register_parameter(f"b{index}", nn.Parameter(torch.zeros(fan_out)))
        self.layers = len(self.hidden) + 1

    def config(self) -> dict:
        return {"hidden": list(self.hidden), "exp_mult": self.exp_mult, "step_mult": self.step_mult}

    @torch.no_grad()
    def zero_output_layer(self) -> None:
        """Zero the last layer, so that the MLP's step is 0 until meta-training moves it (a starting point only:
        the architecture, and so the meta-weights file's config, are the same either way)."""
        getattr(self, f"w{self.layers - 1}").zero_()
        getattr(self, f"b{self.layers - 1}").zero_()

    def tensor_steps(self, theta, params, grads, states, global_state, *, fraction_trained, loss):
        layers = [(theta[f"w{i}"], theta[f"b{i}"]) for i in range(self.layers)]
        dtype = layers[0][0].dtype
        (w0, b0), rest = layers[0], layers[1:]
        # The step-count embedding is the same for every element, and each feature's normaliser the same for every
        # element of a tensor: both fold into the first layer (its bias, its rows) instead of being written out per
        # element, which a 1M-parameter step would pay for in memory traffic.  The product is the same.
        embedding = step_count_embedding(global_state["iteration"]).to(dtype)
        bias = b0 + embedding @ w0[PARAMETER_FEATURES:]
        steps = []
        for param, grad, state in zip(params, grads, states):
            features = parameter_features(param, grad, state).to(dtype)
            first = (w0[:PARAMETER_FEATURES] * feature_normalizers(features)[:, None], bias)
            outputs = per_parameter_mlp([first, *rest], features)
            steps.append(direction_times_magnitude(outputs, self.exp_mult, self.step_mult))
        return steps, states, global_state
