"""Gradient surgery: turning T per-task losses into one parameter update.

A surgery is a pure combination rule (``GradientSurgery.weights``): from the
task losses, and for the methods that need them the T x T Gram matrix of
the task gradients, the weights ``w`` of the combined gradient ``sum_i w_i
g_i``. :func:`combined_gradient` computes that gradient from a parameter
dict and a task loss, in ``torch.func`` only, so that MT-SAC's whole update
compiles as one graph (``agents.sac_update``); ``surgery.step(module,
optimizer, task_loss, task_batches)`` does the same for any ``nn.Module``
and torch optimizer (writes ``.grad``, steps). Methods:

* ``none``: the mean of the task losses, one ordinary backward.
* ``pcgrad``: projecting conflicting gradients (Yu et al., "Gradient Surgery
  for Multi-Task Learning", NeurIPS 2020, Alg. 1). Each task's gradient is,
  in its own random order of the other tasks, projected onto the normal plane
  of every *original* gradient it conflicts with (negative inner product):
  ``g_i <- g_i - (g_i . g_j) / (|g_j|^2 + eps) g_j``. All of this happens in
  coefficient space: with the T x T Gram matrix ``G = g g^T``, a projected
  gradient is ``C[i] @ g`` and each projection only changes ``C[i, j]``, so
  the task gradients are read twice: once for ``G``, once for the final
  ``w @ g`` (per parameter tensor, never copied into one flat matrix). Reduction: the paper sums the projected gradients; ``mean``
  (default) divides by T so that with no conflict PCGrad equals ``none``.
* ``cagrad``: conflict-averse gradient descent (Liu et al., NeurIPS 2021,
  Alg. 1 and its dual problem in Sec. 3): with ``g0`` the mean
  gradient and ``phi = c^2 |g0|^2``, minimize ``F(w) = g_w . g0 + sqrt(phi)
  |g_w|`` over the simplex (``g_w = sum_i w_i g_i``), then step along ``d =
  g0 + sqrt(phi) / |g_w| g_w``. ``F`` is written with ``G`` only and solved
  by accelerated projected gradient descent on ``w`` (simplex projection of Duchi et al.,
  ICML 2008); the step is the paper's ``d``, not rescaled by ``1 / (1 + c^2)``.
* ``famo``: fast adaptive multitask optimization (Liu et al., NeurIPS 2023,
  Alg. 1). Task weights ``z = softmax(xi)``; the update direction is the
  gradient of ``sum_i c z_i log l_i`` with ``c = 1 / sum_i (z_i / l_i)``, one
  backward of a weighted loss. After the step, the logits move with the
  decrease of the log losses at the new parameters on the same batch:
  ``xi <- xi - beta (J_softmax(xi)^T (log l_t - log l_{t+1}) + gamma xi)``.
  O(1) backward per step; losses must be positive (the paper's assumption),
  so ``loss_floor`` (a known lower bound) is subtracted first. The logit step
  is Alg. 1's plain decayed gradient step (the authors' code uses Adam).

Per-task gradients come from one vectorized pass, ``vmap(grad(task_loss))``
over the task axis, never T backward passes. Nothing here reads a tensor
back to the host.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, NamedTuple, get_args

import torch
from torch import nn
from torch.func import grad, grad_and_value, vmap

SurgeryName = Literal["none", "pcgrad", "cagrad", "famo"]
SURGERIES = get_args(SurgeryName)

#: (module parameters by name, one task's slice of the batch) -> scalar loss
TaskLoss = Callable[[dict[str, torch.Tensor], Any], torch.Tensor]


class SurgeryResult(NamedTuple):
    losses: torch.Tensor  #: [T] per-task losses before the step (detached)
    metrics: dict[str, torch.Tensor]  #: 0-d tensors, e.g. conflicting_pairs, mean_cosine


# --------------------------------------------------------------- task passes
def per_task_losses(module: nn.Module, task_loss: TaskLoss, task_batches: Any) -> torch.Tensor:
    """``[T]`` losses, differentiable w.r.t. ``module``'s parameters (one vmapped forward)."""
    params = dict(module.named_parameters())
    return vmap(task_loss, in_dims=(None, 0))(params, task_batches)


def per_task_gradients(module: nn.Module, task_loss: TaskLoss, task_batches: Any) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``([T] losses, per-parameter gradients [T, *shape] in ``module.parameters()``
    order)`` from one ``vmap(grad(...))`` pass. They stay per parameter: one flat
    [T, P] copy would cost as much memory traffic as all of the surgery."""
    params = {name: p.detach() for name, p in module.named_parameters()}
    grads, losses = vmap(grad_and_value(task_loss), in_dims=(None, 0))(params, task_batches)
    return losses, list(grads.values())


def task_gram(grads: list[torch.Tensor]) -> torch.Tensor:
    """``G[i, j] = g_i . g_j`` over all parameters: ``[T, T]``."""
    return sum(g.flatten(1) @ g.flatten(1).T for g in grads)


def write_gradient(module: nn.Module, gradient: list[torch.Tensor]) -> None:
    """Set ``.grad`` of every parameter (in ``module.parameters()`` order)."""
    parameters = list(module.parameters())
    if len(parameters) != len(gradient):
        raise ValueError(f"got {len(gradient)} gradients for a module with {len(parameters)} parameters")
    for p, g in zip(parameters, gradient):
        p.grad = g.view_as(p)


def conflict_metrics(gram: torch.Tensor) -> dict[str, torch.Tensor]:
    """Number of task pairs with a negative inner product, and their mean cosine."""
    t = gram.shape[0]
    if t < 2:
        return {}
    norms = gram.diagonal().clamp_min(0).sqrt()
    cosine = gram / (norms[:, None] * norms[None, :] + 1e-12)
    # masks rather than boolean indexing, whose data-dependent shape a compiled graph cannot hold
    upper = torch.ones(t, t, dtype=gram.dtype, device=gram.device).triu(1)
    return {
        "conflicting_pairs": ((gram < 0).to(gram.dtype) * upper).sum(),
        "mean_cosine": (cosine * upper).sum() / (t * (t - 1) / 2),
    }


# ------------------------------------------------------------------ PCGrad
def pcgrad_coefficients(gram: torch.Tensor, order: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """``C`` with ``C[i] @ g`` = task i's PCGrad-projected gradient.

    ``order[i]`` is the random order in which task i visits the tasks (entries
    equal to i are skipped). Projections use the original gradients ``g_j``,
    as in the paper's Alg. 1; ``eps`` guards zero-norm gradients."""
    t = gram.shape[0]
    rows = torch.arange(t, device=gram.device)
    coefficients = torch.eye(t, dtype=gram.dtype, device=gram.device)
    squared_norms = gram.diagonal()
    for step in range(order.shape[1]):
        other = order[:, step]
        # (C[i] @ g) . g_j = sum_k C[i, k] G[k, j] = (C[i] * G[j]).sum() as G is symmetric
        dots = (coefficients * gram[other]).sum(1)
        conflicting = (dots < 0) & (other != rows)
        shift = torch.where(conflicting, dots / (squared_norms[other] + eps), torch.zeros_like(dots))
        coefficients = coefficients - shift[:, None] * (other[:, None] == rows[None, :]).to(gram.dtype)
    return coefficients


def pcgrad_weights(gram: torch.Tensor, order: torch.Tensor, reduction: str = "mean", eps: float = 1e-12) -> torch.Tensor:
    """Weights ``w`` with ``w @ g`` = PCGrad's combined gradient: the column sums of
    ``pcgrad_coefficients`` (over T for ``mean``)."""
    weights = pcgrad_coefficients(gram, order, eps).sum(0)
    return weights / gram.shape[0] if reduction == "mean" else weights


def pcgrad_combine(grads: torch.Tensor, order: torch.Tensor, reduction: str = "mean", eps: float = 1e-12) -> tuple[torch.Tensor, torch.Tensor]:
    """(combined [P] gradient, Gram [T, T]) of PCGrad over flat task gradients ``[T, P]``."""
    gram = grads @ grads.T
    return pcgrad_weights(gram, order, reduction, eps) @ grads, gram


# ------------------------------------------------------------------ CAGrad
def project_to_simplex(v: torch.Tensor) -> torch.Tensor:
    """Euclidean projection onto {w >= 0, sum w = 1} (Duchi et al., ICML 2008, Fig. 1)."""
    t = v.shape[-1]
    u, _ = torch.sort(v, descending=True)
    cumulative = u.cumsum(-1) - 1.0
    index = torch.arange(1, t + 1, device=v.device, dtype=v.dtype)
    count = (u - cumulative / index > 0).sum(-1, keepdim=True)
    threshold = cumulative.gather(-1, count - 1) / count.to(v.dtype)
    return (v - threshold).clamp_min(0.0)


def cagrad_weights(gram: torch.Tensor, c: float, steps: int = 20) -> torch.Tensor:
    """The simplex weights w minimizing CAGrad's dual ``F(w)``.

    Accelerated projected gradient (FISTA, Beck & Teboulle, 2009) from uniform
    weights, on ``G`` divided by its mean diagonal (the minimizer does not
    change with G's scale; then a unit step suits every T). Measured against
    3000-step solves on random problems with T in {2, 3, 10, 50}: 20 steps
    reach F within 1e-4 relative."""
    t = gram.shape[0]
    g = gram / gram.diagonal().mean().clamp_min(1e-20)
    mean_dot = g.mean(1)  # g_i . g0
    sqrt_phi = c * g.mean().clamp_min(0).sqrt()  # c |g0|
    w = torch.full((t,), 1.0 / t, dtype=gram.dtype, device=gram.device)
    lookahead, momentum = w, 1.0
    for _ in range(steps):
        gw_norm = (lookahead @ g @ lookahead).clamp_min(1e-20).sqrt()
        gradient = mean_dot + sqrt_phi * (g @ lookahead) / gw_norm
        w_next = project_to_simplex(lookahead - gradient)
        momentum_next = 0.5 * (1.0 + (1.0 + 4.0 * momentum**2) ** 0.5)
        lookahead = w_next + ((momentum - 1.0) / momentum_next) * (w_next - w)
        w, momentum = w_next, momentum_next
    return w


def cagrad_direction_weights(gram: torch.Tensor, c: float = 0.4, steps: int = 20) -> torch.Tensor:
    """Weights ``v`` with ``v @ g`` = CAGrad's ``d = g0 + c |g0| / |g_w| g_w``."""
    t = gram.shape[0]
    w = cagrad_weights(gram, c, steps)
    g0_norm = gram.mean().clamp_min(0).sqrt()
    gw_norm = (w @ gram @ w).clamp_min(1e-20).sqrt()
    return 1.0 / t + (c * g0_norm / gw_norm) * w


def cagrad_combine(grads: torch.Tensor, c: float = 0.4, steps: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """(CAGrad direction [P], Gram [T, T]) over flat task gradients ``[T, P]``."""
    gram = grads @ grads.T
    return cagrad_direction_weights(gram, c, steps) @ grads, gram


# -------------------------------------------------------------------- FAMO
def famo_gradient_weights(losses: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Weights ``c z_i / l_i`` that make ``sum_i w_i grad l_i`` FAMO's direction."""
    z = torch.softmax(logits, 0)
    inverse = z / losses
    return inverse / inverse.sum()


def famo_logit_step(logits: torch.Tensor, old_losses: torch.Tensor, new_losses: torch.Tensor, beta: float, gamma: float) -> torch.Tensor:
    """``xi - beta (J_softmax(xi)^T (log l_old - log l_new) + gamma xi)``."""
    z = torch.softmax(logits, 0)
    decrease = old_losses.log() - new_losses.log()
    # softmax's Jacobian diag(z) - z z^T is symmetric
    delta = z * (decrease - (z * decrease).sum())
    return logits - beta * (delta + gamma * logits)


# --------------------------------------------------------------- surgeries
class GradientSurgery:
    """Base: how T task losses (or task gradients) become one gradient.

    The combination is a pure function (:meth:`weights`) of the task losses,
    the task gradients' Gram matrix (when :attr:`needs_task_gradients`), the
    randomness :meth:`draw` took for this update and the surgery's state
    tensors (:meth:`state_tensors`, updated in place by :meth:`after_step`),
    so that :func:`combined_gradient` runs the same inside a compiled update
    (``agents.sac_update``) and in :meth:`step`, for any module and torch optimizer.
    """

    name = "base"
    #: whether the combination needs every task's gradient (one vmapped pass) or only the task losses
    needs_task_gradients = False
    #: whether :meth:`after_step` needs the task losses at the new parameters
    needs_new_losses = False

    def __init__(self, num_tasks: int, device: torch.device):
        if num_tasks < 1:
            raise ValueError(f"num_tasks must be >= 1, got {num_tasks}")
        self.num_tasks, self.device = num_tasks, torch.device(device)

    def draw(self) -> torch.Tensor | None:
        """This update's randomness, drawn eagerly from the surgery's own generator (None: it has none)."""
        return None

    def weights(self, losses: torch.Tensor, gram: torch.Tensor | None, drawn: torch.Tensor | None, state: dict) -> torch.Tensor:
        """``w`` with ``sum_i w_i g_i`` the combined gradient; ``losses`` are detached."""
        raise NotImplementedError

    def metrics(self, gram: torch.Tensor | None, state: dict) -> dict[str, torch.Tensor]:
        return conflict_metrics(gram) if gram is not None else {}

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {}

    def after_step(self, state: dict, losses: torch.Tensor, new_losses: torch.Tensor | None) -> None:
        """Update ``state`` in place once the parameters moved (FAMO's logits)."""

    def step(self, module: nn.Module, optimizer: torch.optim.Optimizer, task_loss: TaskLoss, task_batches: Any) -> SurgeryResult:
        """Per-task losses -> combined gradient in ``.grad`` -> ``optimizer.step()``."""
        optimizer.zero_grad(set_to_none=True)
        params = {name: p.detach() for name, p in module.named_parameters()}
        state = self.state_tensors()
        gradient, losses, _, metrics = combined_gradient(self, params, task_loss, task_batches, self.draw(), state)
        write_gradient(module, list(gradient.values()))
        optimizer.step()
        if self.needs_new_losses:
            with torch.no_grad():
                self.after_step(state, losses, per_task_losses(module, task_loss, task_batches))
        return SurgeryResult(losses.detach(), metrics)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def combined_gradient(surgery: GradientSurgery, params: dict[str, torch.Tensor], task_loss: TaskLoss, task_batches: Any,
                      drawn: torch.Tensor | None, state: dict, *, all_task_losses: Callable | None = None, has_aux: bool = False):
    """``(gradient by parameter name, [T] losses, aux, metrics)`` of ``surgery``'s combination.

    ``task_loss(params, one task's batch)`` gives a task's loss (and, with
    ``has_aux``, ``(loss, aux)``); ``all_task_losses(params, task_batches)``,
    if given, gives all ``[T]`` losses in one call without ``vmap`` (what a
    loss written over leading batch axes does anyway). A surgery that needs
    task gradients gets them from one ``vmap(grad(task_loss))`` pass; the
    others take one gradient of the weighted sum of the losses.
    """
    if surgery.needs_task_gradients:
        grads, value = vmap(grad_and_value(task_loss, has_aux=has_aux), in_dims=(None, 0))(params, task_batches)
        losses, aux = value if has_aux else (value, None)
        gram = task_gram(list(grads.values()))
        weights = surgery.weights(losses.detach(), gram, drawn, state)
        gradient = {name: torch.tensordot(weights.to(g.dtype), g, dims=1) for name, g in grads.items()}
        return gradient, losses.detach(), aux, surgery.metrics(gram, state)
    losses_of = all_task_losses or vmap(task_loss, in_dims=(None, 0))

    def weighted_sum(p):
        value = losses_of(p, task_batches)
        losses, aux = value if has_aux else (value, ())  # grad's aux must be tensors or containers of them
        return (surgery.weights(losses.detach(), None, drawn, state) * losses).sum(), (losses.detach(), aux)

    gradient, (losses, aux) = grad(weighted_sum, has_aux=True)(params)
    return gradient, losses, aux if has_aux else None, surgery.metrics(None, state)


class NoSurgery(GradientSurgery):
    """The plain mean of task losses."""

    name = "none"

    def weights(self, losses, gram, drawn, state):
        return torch.full_like(losses, 1.0 / losses.shape[0])


class PCGrad(GradientSurgery):
    name = "pcgrad"
    needs_task_gradients = True

    def __init__(self, num_tasks: int, device: torch.device, seed: int = 0, reduction: Literal["mean", "sum"] = "mean", eps: float = 1e-12):
        super().__init__(num_tasks, device)
        if reduction not in ("mean", "sum"):
            raise ValueError(f"PCGrad reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction, self.eps = reduction, eps
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)

    def draw(self):
        """Each task's random order of visiting the others (the paper shuffles per step)."""
        t = self.num_tasks
        return torch.rand(t, t, generator=self.generator, device=self.device).argsort(1)

    def weights(self, losses, gram, drawn, state):
        return pcgrad_weights(gram, drawn, self.reduction, self.eps)

    def state_dict(self):
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state):
        self.generator.set_state(state["generator"])


class CAGrad(GradientSurgery):
    name = "cagrad"
    needs_task_gradients = True

    def __init__(self, num_tasks: int, device: torch.device, c: float = 0.4, solver_steps: int = 20):
        super().__init__(num_tasks, device)
        if c < 0 or solver_steps < 1:
            raise ValueError(f"CAGrad needs c >= 0 and solver_steps >= 1, got c={c}, solver_steps={solver_steps}")
        self.c, self.solver_steps = c, solver_steps

    def weights(self, losses, gram, drawn, state):
        return cagrad_direction_weights(gram, self.c, self.solver_steps)


class FAMO(GradientSurgery):
    name = "famo"
    needs_new_losses = True

    def __init__(self, num_tasks: int, device: torch.device, beta: float = 0.025, gamma: float = 0.001, loss_floor: float = 0.0, eps: float = 1e-8):
        super().__init__(num_tasks, device)
        if beta <= 0 or gamma < 0:
            raise ValueError(f"FAMO needs beta > 0 and gamma >= 0, got beta={beta}, gamma={gamma}")
        self.beta, self.gamma, self.loss_floor, self.eps = beta, gamma, loss_floor, eps
        self.logits = torch.zeros(num_tasks, device=self.device)

    def _shifted(self, losses: torch.Tensor) -> torch.Tensor:
        return losses - self.loss_floor + self.eps

    def state_tensors(self):
        return {"logits": self.logits}

    def weights(self, losses, gram, drawn, state):
        return famo_gradient_weights(self._shifted(losses), state["logits"])

    def metrics(self, gram, state):
        z = torch.softmax(state["logits"], 0)
        return {"famo_min_weight": z.min(), "famo_max_weight": z.max()}

    def after_step(self, state, losses, new_losses):
        logits = state["logits"]
        logits.copy_(famo_logit_step(logits, self._shifted(losses), self._shifted(new_losses), self.beta, self.gamma))

    def state_dict(self):
        return {"logits": self.logits.cpu().clone()}

    def load_state_dict(self, state):
        self.logits.copy_(state["logits"].to(self.device))


def make_surgery(name: str, num_tasks: int, device: torch.device, seed: int = 0, **options: Any) -> GradientSurgery:
    """A surgery by name; ``options`` go to its constructor (e.g. ``c`` for CAGrad)."""
    classes = {"none": NoSurgery, "pcgrad": PCGrad, "cagrad": CAGrad, "famo": FAMO}
    if name not in classes:
        raise ValueError(f"unknown gradient surgery {name!r}; accepted: {', '.join(SURGERIES)}")
    if name == "pcgrad":
        options["seed"] = seed
    return classes[name](num_tasks, device, **options)
