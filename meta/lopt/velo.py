"""A VeLO-style hierarchical learned optimizer (Metz et al., "VeLO: Training Versatile Learned Optimizers by Scaling Up", 2022).

VeLO's design (section 3, figure 2): a per-tensor LSTM reads features of each
tensor (the spread of its momenta and second moments relative to its scale,
its rank, the fraction of training done, features of the recent training
losses) together with a context shared by all tensors (a max-pool over the
tensors of an MLP of their features), and emits, per tensor, the mixing
coefficients of a bank of per-parameter MLPs (2 hidden layers of 4 units) and
a step-size multiplier.  The mixed MLP reads each element's features
(``meta.lopt.accumulators``) and outputs a direction and a magnitude; the
step is ``direction * exp(0.001 * magnitude) * 0.001 * lr_mult`` times the
tensor's parameter scale (its root mean square), so a step is relative to
the size of what it moves.

Sizes: the paper's LSTM has 512 units and its bank 256 MLPs; the defaults
here (32 and 16) are what meta-training on two CPU cores affords, settable.
Where the paper leaves a detail open, choices here: the mixing coefficients
are ``1/sqrt(K) + linear(h)`` with the linear layer started at zero (so an
untrained optimizer applies the bank's scaled mean rather than nothing), the
step-size multiplier is ``exp(linear(h))`` started at 1, and the second-moment
feature is the RMS of the gradients over the parameter scale.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from meta.lopt.accumulators import (FRACTION_CENTRES, PARAMETER_FEATURES, init_accumulators, normalize_features,
                                    parameter_features, progress_embedding)
from meta.lopt.model import LearnedOptimizerModel, direction_times_magnitude, per_parameter_mlp, register_architecture

__all__ = ["VeLOOptimizer", "TENSOR_FEATURES"]

#: loss moving averages at log-spaced half-lives from 10 to 1000 steps
LOSS_HALF_LIVES = torch.logspace(1, 3, 10)
#: variance of momenta x3, mean and variance of the RMS, rank one-hot x5, progress x9, loss x9
TENSOR_FEATURES = 3 + 1 + 1 + 5 + len(FRACTION_CENTRES) + len(LOSS_HALF_LIVES) - 1
MLP_OUTPUTS = 2


def _log_magnitude(x: Tensor, scale: float = 10.0) -> Tensor:
    """log|x| squashed into [-2.5, 2.5]: tensor statistics span many decades."""
    return torch.clamp(torch.log(1e-8 + (x * scale).abs()), -5, 5) * 0.5


def init_loss_buffer(device) -> dict[str, Tensor]:
    count = len(LOSS_HALF_LIVES)
    return {"loss_means": torch.zeros(count, device=device), "loss_min": torch.full((count,), 1e12, device=device),
            "loss_count": torch.zeros((), device=device)}


def update_loss_buffer(buffer: dict[str, Tensor], loss: Tensor) -> dict[str, Tensor]:
    decays = torch.exp(-1.0 / LOSS_HALF_LIVES.to(loss.device))
    count = buffer["loss_count"] + 1
    previous = buffer["loss_means"] / (1 - decays ** buffer["loss_count"]).clamp(min=1e-12)
    # a loss spike is cut at twice the largest recent average so one bad batch does not swamp the features
    ceiling = torch.where(buffer["loss_count"] > 0, 2 * previous.max().abs(), loss.abs())
    loss = torch.minimum(loss.to(torch.float32), ceiling)
    means = decays * buffer["loss_means"] + (1 - decays) * loss
    corrected = means / (1 - decays ** count)
    return {"loss_means": means, "loss_min": torch.minimum(buffer["loss_min"], corrected), "loss_count": count}


def loss_features(buffer: dict[str, Tensor]) -> Tensor:
    """Each shorter average's place between its running minimum and the next longer average, in [-1, 1]."""
    decays = torch.exp(-1.0 / LOSS_HALF_LIVES.to(buffer["loss_means"].device))
    corrected = buffer["loss_means"] / (1 - decays ** buffer["loss_count"]).clamp(min=1e-12)
    minimum = buffer["loss_min"][:-1]
    spread = torch.clamp(corrected[1:] - minimum, min=1e-8)
    features = torch.clamp((corrected[:-1] - minimum) / spread - 1, -1, 1)
    return torch.where(buffer["loss_count"] > 2, features, torch.zeros_like(features))


def tensor_features(param: Tensor, state: dict[str, Tensor], progress: Tensor, losses: Tensor) -> Tensor:
    """``[TENSOR_FEATURES]`` for the LSTM: statistics of one tensor relative to its own scale, and the shared ones."""
    scale = torch.rsqrt(torch.clamp(param.square().mean(), min=1e-9))
    momenta = state["m"].reshape(-1, state["m"].shape[-1]) * scale
    rms = state["rms"].reshape(-1).sqrt() * scale
    rank = sum(size > 1 for size in param.shape)
    rank_one_hot = torch.zeros(5, device=param.device)
    rank_one_hot[min(rank, 4)] = 1
    return torch.cat([_log_magnitude(momenta.var(0, unbiased=False)), _log_magnitude(rms.mean())[None],
                      _log_magnitude(rms.var(unbiased=False))[None], rank_one_hot, progress, losses])


def _linear(fan_in: int, fan_out: int, zero: bool = False) -> tuple[nn.Parameter, nn.Parameter]:
    weight = torch.zeros(fan_in, fan_out) if zero else nn.init.trunc_normal_(torch.empty(fan_in, fan_out),
                                                                           std=1 / math.sqrt(fan_in))
    return nn.Parameter(weight), nn.Parameter(torch.zeros(fan_out))


@register_architecture
class VeLOOptimizer(LearnedOptimizerModel):
    """Meta-weights: the tensor LSTM (``lstm_*``, ``mix*``, ``input``), its heads (``controls``, ``lr``) and the MLP bank."""

    architecture = "velo"

    def __init__(self, lstm_hidden: int = 32, bank: int = 16, mlp_hidden: tuple[int, ...] = (4, 4),
                 exp_mult: float = 0.001, step_mult: float = 0.001) -> None:
        super().__init__()
        self.lstm_hidden, self.bank, self.mlp_hidden = lstm_hidden, bank, tuple(mlp_hidden)
        self.exp_mult, self.step_mult = exp_mult, step_mult
        hidden = lstm_hidden
        for name, (fan_in, fan_out, zero) in {"mix0": (TENSOR_FEATURES, hidden, False), "mix1": (hidden, hidden, False),
                                              "input": (TENSOR_FEATURES, hidden, False),
                                              "controls": (hidden, bank, True), "lr": (hidden, 1, True)}.items():
            weight, bias = _linear(fan_in, fan_out, zero)
            self.register_parameter(f"{name}_w", weight)
            self.register_parameter(f"{name}_b", bias)
        self.lstm_input = nn.Parameter(nn.init.trunc_normal_(torch.empty(hidden, 4 * hidden), std=1 / math.sqrt(hidden)))
        self.lstm_recurrent = nn.Parameter(nn.init.trunc_normal_(torch.empty(hidden, 4 * hidden), std=1 / math.sqrt(hidden)))
        self.lstm_bias = nn.Parameter(torch.zeros(4 * hidden))
        sizes = (PARAMETER_FEATURES, *self.mlp_hidden, MLP_OUTPUTS)
        for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            bank_weights = nn.init.trunc_normal_(torch.empty(bank, fan_in, fan_out), std=1 / math.sqrt(fan_in))
            self.register_parameter(f"bank_w{index}", nn.Parameter(bank_weights))
            self.register_parameter(f"bank_b{index}", nn.Parameter(torch.zeros(bank, fan_out)))
        self.mlp_layers = len(sizes) - 1

    def config(self) -> dict:
        return {"lstm_hidden": self.lstm_hidden, "bank": self.bank, "mlp_hidden": list(self.mlp_hidden),
                "exp_mult": self.exp_mult, "step_mult": self.step_mult}

    def init_tensor_state(self, param: Tensor) -> dict[str, Tensor]:
        lstm = {"lstm_h": param.new_zeros(self.lstm_hidden, dtype=torch.float32),
                "lstm_c": param.new_zeros(self.lstm_hidden, dtype=torch.float32)}
        return {**init_accumulators(param), **lstm}

    def init_global_state(self, device="cpu") -> dict[str, Tensor]:
        return {**super().init_global_state(device), **init_loss_buffer(device)}

    def _lstm(self, theta, inputs: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        context = torch.relu(torch.relu(inputs @ theta["mix0_w"] + theta["mix0_b"]) @ theta["mix1_w"] + theta["mix1_b"])
        x = inputs @ theta["input_w"] + theta["input_b"] + context.max(0, keepdim=True).values
        gates = x @ theta["lstm_input"] + h @ theta["lstm_recurrent"] + theta["lstm_bias"]
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f + 1) * c + torch.sigmoid(i) * torch.tanh(g)  # forget bias 1: remember by default
        return torch.sigmoid(o) * torch.tanh(c), c

    def tensor_steps(self, theta, params, grads, states, global_state, *, fraction_trained, loss):
        if loss is not None:
            global_state = {**global_state, **update_loss_buffer(global_state, loss)}
        shared = (progress_embedding(fraction_trained), loss_features(global_state))
        inputs = torch.stack([tensor_features(p, s, *shared) for p, s in zip(params, states)])
        h, c = self._lstm(theta, inputs, torch.stack([s["lstm_h"] for s in states]), torch.stack([s["lstm_c"] for s in states]))
        mixing = 1 / math.sqrt(self.bank) + h @ theta["controls_w"] + theta["controls_b"]
        lr_mult = torch.exp(h @ theta["lr_w"] + theta["lr_b"])[:, 0]
        steps, new_states = [], []
        for index, (param, grad, state) in enumerate(zip(params, grads, states)):
            layers = [(torch.einsum("k,kio->io", mixing[index], theta[f"bank_w{i}"]), mixing[index] @ theta[f"bank_b{i}"])
                      for i in range(self.mlp_layers)]
            features = normalize_features(parameter_features(param, grad, state)).to(torch.float32)
            scale = torch.sqrt(param.to(torch.float32).square().mean() + 1e-9)
            outputs = per_parameter_mlp(layers, features)
            steps.append(direction_times_magnitude(outputs, self.exp_mult, self.step_mult) * scale * lr_mult[index])
            new_states.append({**state, "lstm_h": h[index], "lstm_c": c[index]})
        return steps, new_states, global_state
