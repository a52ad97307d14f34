"""The contract every learned optimizer's meta-model follows, and its meta-weights file.

A meta-model (an ``nn.Module`` whose parameters are the meta-weights) turns
(parameters, gradients, its per-tensor and global state) into new parameters
with ``step``, a pure function of its arguments: the meta-weights ``theta``
are passed in, not read from the module, so ``torch.func.vmap`` can run many
perturbed copies at once (ES, ``meta.lopt.es``) and
``meta.lopt.optimizer.LearnedOptimizer`` can run the one trained copy on any
model.  Subclasses say how a tensor's step is made (``tensor_steps``); the
accumulators and the step count are shared here.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor, nn

from meta.cache import write_atomically
from meta.lopt.accumulators import init_accumulators, update_accumulators

__all__ = ["LearnedOptimizerModel", "register_architecture", "build_meta_model", "save_meta_weights",
           "load_meta_weights", "ARCHITECTURES"]

FILE_FORMAT = "polytask-learned-optimizer"
ARCHITECTURES: dict[str, type] = {}


def register_architecture(cls: type) -> type:
    ARCHITECTURES[cls.architecture] = cls
    return cls


class LearnedOptimizerModel(nn.Module):
    """Meta-weights and the pure update rule they parameterise."""

    architecture: ClassVar[str]

    def config(self) -> dict:
        """The constructor's keyword arguments (what the meta-weights file records beside the weights)."""
        raise NotImplementedError

    def theta(self) -> dict[str, Tensor]:
        """The meta-weights as a detached dict (the ``theta`` ``step`` takes)."""
        return {name: value.detach() for name, value in self.named_parameters()}

    def init_tensor_state(self, param: Tensor) -> dict[str, Tensor]:
        return init_accumulators(param)

    def init_global_state(self, device: torch.device | str = "cpu") -> dict[str, Tensor]:
        return {"iteration": torch.zeros((), device=device)}

    def step(self, theta: Mapping[str, Tensor], params: Sequence[Tensor], grads: Sequence[Tensor],
             states: Sequence[dict[str, Tensor]], global_state: dict[str, Tensor], *,
             fraction_trained: Tensor, loss: Tensor | None = None):
        """(new parameters, new per-tensor states, new global state) after one step on ``grads``."""
        states = [{**state, **update_accumulators(state, grad)} for state, grad in zip(states, grads)]
        steps, states, global_state = self.tensor_steps(theta, params, grads, states, global_state,
                                                        fraction_trained=fraction_trained, loss=loss)
        new_params = [p - s.reshape(p.shape).to(p.dtype) for p, s in zip(params, steps)]
        return new_params, states, {**global_state, "iteration": global_state["iteration"] + 1}

    def tensor_steps(self, theta, params, grads, states, global_state, *, fraction_trained, loss):
        """(each tensor's step, subtracted from it; the per-tensor states; the global state, its iteration count as it was)."""
        raise NotImplementedError


def build_meta_model(architecture: str, config: Mapping) -> LearnedOptimizerModel:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown learned-optimizer architecture {architecture!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[architecture](**config)


def save_meta_weights(model: LearnedOptimizerModel, path: Path | str) -> Path:
    """Write ``model`` 's architecture, config and weights to ``path`` atomically, with a checksum of the weights."""
    buffer = io.BytesIO()
    torch.save({name: value.detach().cpu() for name, value in model.state_dict().items()}, buffer)
    payload = buffer.getvalue()
    record = {"format": FILE_FORMAT, "architecture": model.architecture, "config": model.config(),
              "weights": payload, "sha256": hashlib.sha256(payload).hexdigest()}
    path = Path(path)
    write_atomically(path, lambda file: torch.save(record, file))
    return path


def load_meta_weights(path: Path | str, expect: LearnedOptimizerModel | None = None,
                      device: torch.device | str = "cpu") -> LearnedOptimizerModel:
    """The meta-model saved at ``path``; with ``expect``, load into it and refuse another architecture or config."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no meta-weights file at {path}: write one with save_meta_weights or "
                         "`python -m launch train lopt-mlp|lopt-nominal|lopt-velo` (its run directory's meta_weights.pt)")
    try:
        record = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises several types for a file that is not a torch file
        raise ValueError(f"{path} is not a meta-weights file: {error}") from error
    if not isinstance(record, dict) or record.get("format") != FILE_FORMAT:
        raise ValueError(f"{path} is not a meta-weights file (no {FILE_FORMAT!r} header)")
    if hashlib.sha256(record["weights"]).hexdigest() != record["sha256"]:
        raise ValueError(f"{path}: the weights' checksum does not match; the file is damaged")
    if expect is not None and (record["architecture"] != expect.architecture or record["config"] != expect.config()):
        raise ValueError(f"{path} holds meta-weights of {record['architecture']} with {record['config']}; "
                         f"the optimizer is {expect.architecture} with {expect.config()}")
    model = expect if expect is not None else build_meta_model(record["architecture"], record["config"])
    model.load_state_dict(torch.load(io.BytesIO(record["weights"]), map_location="cpu"))
    return model.to(device)


def per_parameter_mlp(layers: Sequence[tuple[Tensor, Tensor]], features: Tensor) -> Tensor:
    """The per-parameter MLP over ``[numel, inputs]`` features: ReLU between layers, linear output."""
    out = features
    for index, (weight, bias) in enumerate(layers):
        out = torch.addmm(bias, out, weight)  # one pass for product and bias: this is most of a step's cost
        if index < len(layers) - 1:
            out = torch.relu_(out)
    return out


def direction_times_magnitude(outputs: Tensor, exp_mult: float, step_mult: float) -> Tensor:
    """The papers' step from the MLP's two outputs: ``direction * exp(exp_mult * magnitude) * step_mult``.

    The small multipliers keep an untrained network's steps near 1e-3, the
    scale at which training neither stalls nor diverges."""
    return outputs[:, 0] * torch.exp(exp_mult * outputs[:, 1]) * step_mult
