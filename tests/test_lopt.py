"""Learned optimizers: the update path, features at the extremes, ES's estimates, state and meta-weights, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from launch.checkpoint import load_checkpoint
from launch.config import RunConfig
from launch.loop import train
from meta.lopt.accumulators import init_accumulators, normalize_features, parameter_features, update_accumulators
from meta.lopt.config import MLPOptimizerConfig, NominalAdamConfig, VeLOConfig
from meta.lopt.es import PersistentPerturbations, antithetic_gradient, sample_perturbations
from meta.lopt.evaluation import speedup, train_curve
from meta.lopt.learner import MetaTrainer
from meta.lopt.mlp import MLPOptimizer
from meta.lopt.model import LearnedOptimizerModel, load_meta_weights, save_meta_weights
from meta.lopt.nominal import NominalAdamOptimizer
from meta.lopt.optimizer import LearnedOptimizer
from meta.lopt.tasks import Task, TaskConfig, held_out_tasks, sample_task
from meta.lopt.unroll import ParticleUnroll
from meta.lopt.velo import VeLOOptimizer
from test_user_path import launch, ok

ARCHITECTURES = [MLPOptimizer, NominalAdamOptimizer, VeLOOptimizer]
TINY = dict(pairs=2, tasks_per_iteration=1, truncation=4, min_horizon=8, max_horizon=12, curriculum=4,
            eval_tasks=1, eval_steps=10)


class HandSetSGD(LearnedOptimizerModel):
    """A 'network' whose step is lr * grad: what the optimizer then does must be SGD."""

    architecture = "hand-set-sgd"

    def __init__(self, lr: float) -> None:
        super().__init__()
        self.lr = lr

    def config(self) -> dict:
        return {"lr": self.lr}

    def tensor_steps(self, theta, params, grads, states, global_state, *, fraction_trained, loss):
        return [self.lr * g for g in grads], states, global_state


def small_net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))


def train_steps(net, optimizer, steps: int, offset: int = 0) -> None:
    for step in range(offset, offset + steps):
        generator = torch.Generator().manual_seed(step)
        x, y = torch.randn(16, 5, generator=generator), torch.randn(16, 3, generator=generator)
        loss = (net(x) - y).square().mean()
        optimizer.zero_grad()
        loss.backward()
        if isinstance(optimizer, LearnedOptimizer):
            optimizer.step(loss=loss.detach())
        else:
            optimizer.step()


class PlainSGD(torch.optim.Optimizer):
    """p <- p - lr * g, computed as written (torch's SGD fuses the multiply-add, which rounds differently)."""

    def __init__(self, params, lr: float) -> None:
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for param in group["params"]:
                param.copy_(param - group["lr"] * param.grad)


def test_a_hand_set_network_that_outputs_lr_times_grad_reproduces_sgd_exactly():
    sgd_net, learned_net, torch_sgd_net = small_net(), small_net(), small_net()
    train_steps(sgd_net, PlainSGD(sgd_net.parameters(), lr=0.05), 5)
    train_steps(learned_net, LearnedOptimizer(learned_net.parameters(), HandSetSGD(0.05)), 5)
    train_steps(torch_sgd_net, torch.optim.SGD(torch_sgd_net.parameters(), lr=0.05), 5)
    assert all(torch.equal(a, b) for a, b in zip(sgd_net.parameters(), learned_net.parameters()))
    for a, b in zip(torch_sgd_net.parameters(), learned_net.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_the_mlp_optimizer_with_hand_set_weights_steps_along_the_normalised_gradient():
    model = MLPOptimizer(hidden=(2, 2))
    with torch.no_grad():
        for param in model.parameters():
            param.zero_()
        model.w0[0, 0], model.w0[0, 1] = 1.0, -1.0     # feature 0 is the gradient: relu(g), relu(-g)
        model.w1[0, 0] = model.w1[1, 1] = 1.0
        model.w2[0, 0], model.w2[1, 0] = 1.0, -1.0     # direction = g (normalised), magnitude 0
    weight = torch.randn(4, 6, requires_grad=True)
    before = weight.detach().clone()
    (weight.square().sum() * 3).backward()
    grad = weight.grad.clone()
    LearnedOptimizer([weight], model).step()
    expected = before - model.step_mult * grad * torch.rsqrt(1e-5 + grad.square().mean())
    torch.testing.assert_close(weight.detach(), expected)


def _nominal_without_its_network(**kwargs) -> NominalAdamOptimizer:
    model = NominalAdamOptimizer(**kwargs)
    model.zero_output_layer()  # no learned correction
    return model


def test_the_nominal_optimizer_untrained_and_without_its_network_is_adam_at_the_nominal_rate():
    adam_net, learned_net = small_net(), small_net()
    train_steps(adam_net, torch.optim.Adam(adam_net.parameters(), lr=0.02), 8)
    train_steps(learned_net, LearnedOptimizer(learned_net.parameters(), _nominal_without_its_network(nominal_lr=0.02), 8), 8)
    for a, b in zip(adam_net.parameters(), learned_net.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_the_nominal_optimizers_learned_schedule_scales_adams_step_with_the_fraction_of_training_done():
    model = _nominal_without_its_network(nominal_lr=0.01)
    with torch.no_grad():
        model.schedule_w[-2] = -0.05  # the embedding centred on the end of training (-1 before it, 0 at it)
    early, late = (float(model.learning_rate(model.theta(), torch.tensor(f))) for f in (0.0, 1.0))
    assert early == pytest.approx(0.01 * np.exp(10 * 0.05 * np.tanh(10)), rel=1e-5)  # tanh(-10) is -1: a boost early
    assert late == pytest.approx(0.01, rel=1e-5)  # tanh(0) = 0 at the centre
    assert late / early == pytest.approx(np.exp(-0.5), rel=1e-5)  # the rate decays toward the end
    weight = torch.ones(3, requires_grad=True)
    weight.grad = torch.ones(3)
    LearnedOptimizer([weight], model, total_steps=1).step()  # fraction 0: Adam's first step is lr * sign(g)
    torch.testing.assert_close(weight.detach(), torch.full((3,), 1 - early), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(6, 4), (7,), (3, 2, 2)])
def test_features_are_finite_for_zero_and_huge_gradients(shape):
    param = torch.randn(shape)
    state = init_accumulators(param)
    for grad in (torch.zeros(shape), torch.full(shape, 1e30), torch.full(shape, -1e38), torch.zeros(shape)):
        state = update_accumulators(state, grad)
        features = normalize_features(parameter_features(param, grad, state))
        assert torch.isfinite(features).all() and features.shape == (param.numel(), 30)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_both_optimizers_step_finitely_on_extreme_gradients_and_refuse_non_finite_ones(architecture):
    net = small_net()
    optimizer = LearnedOptimizer(net.parameters(), architecture())
    for fill in (0.0, 1e30, 0.0):
        for param in net.parameters():
            param.grad = torch.full_like(param, fill)
        optimizer.step(loss=torch.tensor(1e30 if fill else 0.0))
    assert all(torch.isfinite(p).all() for p in net.parameters())
    before = [p.detach().clone() for p in net.parameters()]
    next(net.parameters()).grad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite gradient .* in parameters \\[0\\]"):
        optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_antithetic_es_matches_the_true_gradient_of_a_quadratic_in_expectation():
    theta, target, sigma = torch.tensor([0.5, -1.0, 2.0]), torch.tensor([1.0, 1.0, -1.0]), 0.1
    loss = lambda t: 0.5 * (t - target).square().sum(-1)  # noqa: E731
    generator = torch.Generator().manual_seed(0)
    noise = sample_perturbations(20_000, 3, sigma, generator)
    estimate = antithetic_gradient(loss(theta + noise), loss(theta - noise), noise, sigma)
    torch.testing.assert_close(estimate, theta - target, atol=0.05, rtol=0.02)


def test_pes_is_unbiased_for_the_whole_unroll_where_truncated_es_is_not():
    """A state s advanced by theta each truncation, a loss |s - a|^2 / 2 at each: the loss depends on every past theta."""
    theta, target, sigma, truncations, pairs = torch.tensor([0.3, -0.2]), torch.tensor([1.0, 0.5]), 0.05, 3, 40_000
    generator = torch.Generator().manual_seed(1)
    sums = PersistentPerturbations(pairs, 2)
    state_plus = state_minus = torch.zeros(pairs, 2)
    pes, truncated = torch.zeros(2), torch.zeros(2)
    for _ in range(truncations):
        noise = sample_perturbations(pairs, 2, sigma, generator)
        state_plus, state_minus = state_plus + theta + noise, state_minus + theta - noise
        plus, minus = 0.5 * (state_plus - target).square().sum(-1), 0.5 * (state_minus - target).square().sum(-1)
        pes += sums.gradient(noise, plus, minus, sigma)
        truncated += antithetic_gradient(plus, minus, noise, sigma)
    exact = theta.clone().requires_grad_(True)
    total = sum(0.5 * ((k + 1) * exact - target).square().sum() for k in range(truncations))
    true_gradient, = torch.autograd.grad(total, exact)
    torch.testing.assert_close(pes, true_gradient, atol=0.1, rtol=0.05)
    assert (truncated - true_gradient).abs().max() > 0.5  # truncated ES misses the earlier truncations' influence


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_an_optimizers_state_dict_round_trips_through_a_checkpoint_and_resumes_bit_exactly(architecture, tmp_path):
    torch.manual_seed(3)
    model = architecture()
    straight = small_net()
    straight_optimizer = LearnedOptimizer(straight.parameters(), model, total_steps=6)
    train_steps(straight, straight_optimizer, 6)
    first = small_net()
    first_optimizer = LearnedOptimizer(first.parameters(), model, total_steps=6)
    train_steps(first, first_optimizer, 3)
    torch.save({"net": first.state_dict(), "optimizer": first_optimizer.state_dict()}, tmp_path / "ckpt.pt")
    save_meta_weights(model, tmp_path / "meta.pt")
    saved = torch.load(tmp_path / "ckpt.pt")
    resumed = small_net(seed=9)
    resumed.load_state_dict(saved["net"])
    resumed_optimizer = LearnedOptimizer(resumed.parameters(), load_meta_weights(tmp_path / "meta.pt"), total_steps=6)
    resumed_optimizer.load_state_dict(saved["optimizer"])
    train_steps(resumed, resumed_optimizer, 3, offset=3)
    assert all(torch.equal(a, b) for a, b in zip(straight.parameters(), resumed.parameters()))


def test_bad_input_gets_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="parameter 0 .* has dtype torch.int64; a learned optimizer takes float32 or float64"):
        LearnedOptimizer([torch.zeros(3, dtype=torch.int64)], MLPOptimizer())
    with pytest.raises(ValueError, match="no meta-weights file at .*missing.pt"):
        load_meta_weights(tmp_path / "missing.pt")
    save_meta_weights(VeLOOptimizer(), tmp_path / "velo.pt")
    with pytest.raises(ValueError, match="holds meta-weights of velo .* the optimizer is mlp"):
        load_meta_weights(tmp_path / "velo.pt", expect=MLPOptimizer())
    save_meta_weights(MLPOptimizer(hidden=(16,)), tmp_path / "narrow.pt")
    with pytest.raises(ValueError, match="holds meta-weights of mlp with .*16"):
        load_meta_weights(tmp_path / "narrow.pt", expect=MLPOptimizer())
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="is not a meta-weights file"):
        load_meta_weights(tmp_path / "junk.pt")
    record = torch.load(tmp_path / "narrow.pt", weights_only=False)
    record["weights"] = record["weights"][:-8] + b"\x00" * 8
    torch.save(record, tmp_path / "damaged.pt")
    with pytest.raises(ValueError, match="checksum does not match"):
        load_meta_weights(tmp_path / "damaged.pt")
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'; known: digits, blobs, teacher"):
        TaskConfig(dataset="imagenet")


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_the_vectorised_unroll_trains_each_particle_as_the_optimizer_trains_one_model(architecture):
    torch.manual_seed(0)
    model, task = architecture(), Task(TaskConfig(dataset="blobs", hidden=(8,), seed=4))
    unroll = ParticleUnroll(model, task, particles=3, horizon=5)
    thetas = {name: value.unsqueeze(0).repeat(3, *[1] * value.dim()) for name, value in model.theta().items()}
    unroll.advance(thetas, 5)
    params = [p.clone().requires_grad_(True) for p in task.init_params()]
    optimizer = LearnedOptimizer(params, model, total_steps=5)
    for step in range(5):
        loss = task.loss(params, *task.batch(step))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step(loss=loss.detach())
    for single, stacked in zip(params, unroll.params):
        torch.testing.assert_close(stacked[1], single.detach(), rtol=1e-5, atol=1e-6)


def test_the_task_family_is_deterministic_and_its_held_out_tasks_are_never_sampled_for_training():
    first = [sample_task(np.random.default_rng(0)) for _ in range(3)]
    assert first == [sample_task(np.random.default_rng(0)) for _ in range(3)]
    held_out = held_out_tasks(6)
    assert {task.dataset for task in held_out} == {"digits", "blobs", "teacher"}
    training_seeds = {sample_task(np.random.default_rng(seed)).seed for seed in range(200)}
    assert training_seeds.isdisjoint({task.seed for task in held_out})
    task = Task(held_out[0])
    assert all(torch.equal(a, b) for a, b in zip(task.init_params(), task.init_params()))
    assert all(torch.equal(a, b) for a, b in zip(task.batch(7), task.batch(7)))


def test_speedup_counts_the_steps_adams_envelope_needs_to_reach_the_learned_optimizers_final_loss():
    envelope = np.array([2.0, 1.0, 0.5, 0.25])
    assert speedup(0.5, envelope, every=10, learned_steps=10).value == 2.0
    assert speedup(0.1, envelope, every=10, learned_steps=10) == type(speedup(0.1, envelope, 10, 10))(3.0, False)
    curve = train_curve(Task(TaskConfig(dataset="teacher", hidden=(8,))), lambda p, _: torch.optim.Adam(p, lr=1e-2), 20)
    assert len(curve.losses) == 3 and curve.final < curve.losses[0]


@pytest.mark.parametrize("config_class", [MLPOptimizerConfig, NominalAdamConfig, VeLOConfig])
def test_meta_training_runs_through_the_loop_and_resumes_exactly(tmp_path, config_class):
    config = config_class(**TINY)
    name = f"lopt-{config.architecture}"
    run = RunConfig(budget=4, eval_every=2, runs_dir=tmp_path, name=name, progress_bar=False, seed=1)
    result = train(MetaTrainer(config, device="cpu", seed=1), run, algorithm_name=name, algorithm_config=config)
    assert {"final_loss", "tuned_adam_loss", "speedup"} <= set(next(iter(result.report.rows.values())))
    exported = load_meta_weights(result.run_dir / "meta_weights.pt")  # what a user plugs into LearnedOptimizer
    assert all(torch.equal(value, exported.state_dict()[key])
               for key, value in load_checkpoint(result.run_dir)[1]["algorithm_state"]["meta_weights"].items())
    resumed = MetaTrainer(config, device="cpu", seed=1)
    resumed.load_state_dict(load_checkpoint(sorted(result.run_dir.glob("checkpoint_*2.pt"))[0])[1]["algorithm_state"])
    while resumed.progress() < 4:
        resumed.step()
    final = load_checkpoint(result.run_dir)[1]["algorithm_state"]
    assert all(torch.equal(value, final["meta_weights"][key]) for key, value in resumed.model.state_dict().items())
    other = VeLOConfig if config_class is MLPOptimizerConfig else MLPOptimizerConfig
    with pytest.raises(ValueError, match="checkpoint is for MetaTrainer:lopt-"):
        MetaTrainer(other(**TINY), device="cpu", seed=1).load_state_dict(final)


def test_the_cli_meta_trains_a_learned_optimizer(tmp_path):
    flags = [flag for key, value in TINY.items() for flag in (f"--algorithm.{key.replace('_', '-')}", str(value))]
    done = ok(launch("train", "lopt-velo", *flags, "--run.budget", "2", "--run.runs-dir", tmp_path, "--run.no-progress-bar"))
    assert "speedup" in done.stdout
    bad = launch("train", "lopt-mlp", "--algorithm.estimator", "sgd", "--run.runs-dir", tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_the_meta_learning_rate_falls_by_half_a_cosine_to_a_tenth_and_stays():
    trainer = MetaTrainer(MLPOptimizerConfig(**TINY, lr=1e-3, lr_decay=10), device="cpu", seed=0)
    rates = []
    for _ in range(12):
        rates.append(trainer.meta_lr())  # the rate the coming step takes
        trainer.step()
        assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(rates[-1])
    assert rates[0] == pytest.approx(1e-3)
    assert rates[-1] == pytest.approx(1e-4)  # past the decay
    assert all(a >= b for a, b in zip(rates, rates[1:]))
    assert MetaTrainer(MLPOptimizerConfig(**TINY), device="cpu", seed=0).meta_lr() == 1e-3  # 0: constant
    with pytest.raises(ValueError, match="lr_decay must be 0"):
        MLPOptimizerConfig(lr_decay=-1)


def test_a_state_saved_before_a_config_field_existed_loads_while_that_field_is_at_its_default():
    state = MetaTrainer(MLPOptimizerConfig(**TINY), device="cpu", seed=0).state_dict()
    del state["config"]["lr_decay"]  # as saved before lr_decay was added
    MetaTrainer(MLPOptimizerConfig(**TINY), device="cpu", seed=0).load_state_dict(state)
    with pytest.raises(ValueError, match="checkpoint is for MetaTrainer:lopt-mlp"):
        MetaTrainer(MLPOptimizerConfig(**TINY, lr_decay=5), device="cpu", seed=0).load_state_dict(state)


def test_a_late_weighted_objective_counts_each_step_by_its_fraction_of_the_unroll():
    torch.manual_seed(0)
    model, task = MLPOptimizer(), Task(TaskConfig(dataset="blobs", hidden=(8,), seed=4))
    thetas = {name: value.unsqueeze(0).repeat(2, *[1] * value.dim()) for name, value in model.theta().items()}
    plain, late = ParticleUnroll(model, task, 2, horizon=6), ParticleUnroll(model, task, 2, horizon=6, late_weight=2.0)
    per_step = torch.stack([plain.advance(thetas, 1) for _ in range(6)])  # [steps, particles]: each step's log loss
    weights = torch.tensor([3.0 * ((k + 1) / 6) ** 2 for k in range(6)])
    first, second = late.advance(thetas, 3), late.advance(thetas, 3)  # two truncations, as PES takes them
    torch.testing.assert_close(first, (weights[:3, None] * per_step[:3]).mean(0))
    torch.testing.assert_close(second, (weights[3:, None] * per_step[3:]).mean(0))
    assert late.step_weight(5) == 3.0 and plain.step_weight(5) == plain.step_weight(0) == 1.0
    # unweighted (p = 0), a truncation's objective is exactly the mean of its steps' log losses
    again = ParticleUnroll(model, task, 2, horizon=6)
    assert torch.equal(again.advance(thetas, 6), per_step.mean(0))
    with pytest.raises(ValueError, match="late_weight must be >= 0"):
        NominalAdamConfig(late_weight=-1.0)


def test_meta_training_can_start_from_a_zero_output_layer_and_the_default_start_is_unchanged():
    default = MetaTrainer(NominalAdamConfig(**TINY), device="cpu", seed=3).model
    again = MetaTrainer(NominalAdamConfig(**TINY, output_init="fan_in"), device="cpu", seed=3).model
    zero = MetaTrainer(NominalAdamConfig(**TINY, output_init="zero"), device="cpu", seed=3).model
    last = f"w{default.layers - 1}"
    assert all(torch.equal(a, b) for a, b in zip(default.state_dict().values(), again.state_dict().values()))
    assert default.get_parameter(last).abs().sum() > 0 and zero.get_parameter(last).abs().sum() == 0
    # every other meta-weight is drawn as before, and the saved config (the architecture) is the same
    assert all(torch.equal(value, zero.state_dict()[name]) for name, value in default.state_dict().items()
               if not name.endswith(str(default.layers - 1)))
    assert zero.config() == default.config()
    # untrained from zero, lopt-nominal is Adam at its nominal rate and lopt-mlp stands still
    adam_net, nominal_net, mlp_net = small_net(), small_net(), small_net()
    train_steps(adam_net, torch.optim.Adam(adam_net.parameters(), lr=0.01), 6)
    train_steps(nominal_net, LearnedOptimizer(nominal_net.parameters(), zero, 6), 6)
    mlp = MetaTrainer(MLPOptimizerConfig(**TINY, output_init="zero"), device="cpu", seed=3).model
    train_steps(mlp_net, LearnedOptimizer(mlp_net.parameters(), mlp, 6), 6)
    for a, b, c, d in zip(adam_net.parameters(), nominal_net.parameters(), mlp_net.parameters(), small_net().parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        assert torch.equal(c, d)
    with pytest.raises(ValueError, match="output_init must be 'fan_in' or 'zero'"):
        NominalAdamConfig(output_init="ones")


def test_the_table_scores_a_nominal_run_without_its_mlp_on_a_copy_and_leaves_the_run_whole(tmp_path):
    from benchmarks.lopt_table import WITHOUT_NETWORK, load_runs

    config = NominalAdamConfig(**TINY)
    run = RunConfig(budget=2, eval_every=2, runs_dir=tmp_path, name="nominal", progress_bar=False, seed=1)
    result = train(MetaTrainer(config, device="cpu", seed=1), run, algorithm_name="lopt-nominal", algorithm_config=config)
    (label, (whole,)), (ablated_label, (ablated,)) = load_runs([str(result.run_dir)], without_network=True).items()
    assert ablated_label == label + WITHOUT_NETWORK
    output = (f"w{whole.layers - 1}", f"b{whole.layers - 1}")
    assert whole.state_dict()[output[0]].abs().sum() > 0 and not ablated.state_dict()[output[0]].any()
    # everything else, the learned schedule included, is the run's own
    assert all(torch.equal(value, ablated.state_dict()[key]) for key, value in whole.state_dict().items() if key not in output)
