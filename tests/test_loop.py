"""The training loop with a learner-agnostic dummy: budget, schedule, logging,
checkpoints, resume that continues bit for bit, and clear refusals."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from envs.report import EvalReport
from envs.suite import EnvConfig
from launch.algorithm import Algorithm
from launch.algorithms import ALGORITHMS, AlgorithmSpec, register_algorithm
from launch.checkpoint import CheckpointError, list_checkpoints
from launch.config import RunConfig
from launch.experiment import run_training


@dataclasses.dataclass(frozen=True)
class DummyConfig:
    """A per-task linear regression: one row per task of a benchmark."""

    benchmark: str = "MT10"
    """whose task names label the regression tasks"""
    tasks: int = 3
    """how many of the benchmark's tasks get a regression problem"""
    batch_size: int = 8
    """examples per task per update"""
    learning_rate: float = 0.05
    """Adam step size"""
    seconds_per_step: float = 0.0
    """sleep in every step, so that a test can interrupt a run mid-way"""


class DummyRegression:
    """Draws from its own generator and from the global ones, so a resume that
    restores either one wrongly changes the numbers."""

    unit = "updates"
    default_budget = 40
    default_eval_every = 10

    def __init__(self, config: DummyConfig, *, device: torch.device, seed: int):
        import envs

        self.config, self.device = config, device
        self.task_names = envs.get_benchmark(config.benchmark).tasks("train")[: config.tasks]
        self.generator = torch.Generator().manual_seed(seed)
        self.true_weights = torch.randn(config.tasks, 4, generator=self.generator)
        self.weights = torch.nn.Parameter(torch.zeros(config.tasks, 4))
        self.optimizer = torch.optim.Adam([self.weights], lr=config.learning_rate)
        self.updates = 0

    def progress(self) -> int:
        return self.updates

    def _loss(self, inputs: torch.Tensor) -> torch.Tensor:
        targets = torch.einsum("tbi,ti->tb", inputs, self.true_weights)
        return ((torch.einsum("tbi,ti->tb", inputs, self.weights) - targets) ** 2).mean(dim=1)

    def step(self) -> dict[str, float]:
        time.sleep(self.config.seconds_per_step)
        inputs = torch.randn(self.config.tasks, self.config.batch_size, 4, generator=self.generator)
        inputs = inputs + 0.1 * torch.randn(inputs.shape) + 0.1 * float(np.random.randn())  # global generators too
        loss = self._loss(inputs).sum()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.updates += 1
        metrics = {"losses/mse": loss.detach(), "charts/learning_rate": self.config.learning_rate}
        if self.updates % 7 == 0:  # like an episode's return: reported only when an episode ends
            metrics["charts/every_seventh_update"] = float(self.updates)
        return metrics

    def evaluate(self) -> EvalReport:
        torch.randn(100)  # evaluation drawing from the global generator must not change training
        np.random.rand(7)
        inputs = torch.randn(self.config.tasks, 64, 4, generator=torch.Generator().manual_seed(123))
        with torch.no_grad():
            mse = self._loss(inputs)
        report = EvalReport(title="dummy regression")
        for name, value in zip(self.task_names, mse.tolist()):
            report.add(name, mse=value)
        return report

    def state_dict(self) -> dict:
        return {"weights": self.weights.detach().clone(), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        if state["weights"].shape != self.weights.shape:
            raise ValueError(f"weights of shape {tuple(state['weights'].shape)}, expected {tuple(self.weights.shape)}")
        with torch.no_grad():
            self.weights.copy_(state["weights"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.updates = state["updates"]


def register_dummy() -> None:
    """Make the dummy a CLI algorithm, the way a user registers their own learner."""
    if "dummy" not in ALGORITHMS:
        register_algorithm(AlgorithmSpec("dummy", f"{__name__}:DummyRegression", f"{__name__}:DummyConfig",
                                         "per-task linear regression (tests)"))


register_dummy()


def run(tmp_path, config=DummyConfig(), **run_options):
    options = {"runs_dir": tmp_path, "name": "run", "progress_bar": False, "deterministic": True, **run_options}
    return run_training("dummy", config, RunConfig(**options))


def test_the_dummy_follows_the_protocol():
    assert isinstance(DummyRegression(DummyConfig(), device=torch.device("cpu"), seed=0), Algorithm)


def test_trains_to_budget_and_writes_report_checkpoints_and_tensorboard(tmp_path, capsys):
    result = run(tmp_path, budget=25, eval_every=10, keep_checkpoints=2, log_every=5)
    assert result.progress == 25 and not result.interrupted
    assert [p.name for p in list_checkpoints(result.run_dir)] == ["checkpoint_000000000020.pt", "checkpoint_000000000025.pt"]
    assert EvalReport.load(result.run_dir / "report.json").rows == result.report.rows
    assert (result.run_dir / "report.csv").read_text().startswith("task,mse")
    assert set(result.report.rows) == {"reach", "push", "pick-place"}
    assert result.report.mean("mse") < 5.0
    printed = capsys.readouterr().out
    assert "pick-place" in printed and "mean" in printed

    events = EventAccumulator(str(result.run_dir)).Reload()
    tags = set(events.Tags()["scalars"])
    assert {"losses/mse", "charts/learning_rate", "charts/units_per_second", "eval/reach/mse", "eval/mean/mse"} <= tags
    assert [e.step for e in events.Scalars("eval/reach/mse")] == [10, 20, 25]
    assert [e.step for e in events.Scalars("losses/mse")] == [5, 10, 15, 20, 25]
    sporadic = events.Scalars("charts/every_seventh_update")
    assert [(e.step, e.value) for e in sporadic] == [(10, 7.0), (15, 14.0), (25, 21.0)]
    assert "hyperparameters" in "".join(events.Tags()["tensors"])
    losses = [e.value for e in events.Scalars("losses/mse")]
    assert losses[-1] < losses[0]  # it learned


def test_resumed_run_matches_an_uninterrupted_one(tmp_path):
    straight = run(tmp_path, budget=30, eval_every=7, name="straight")
    run(tmp_path, budget=12, eval_every=7, name="resumed")
    resumed = run(tmp_path, budget=30, eval_every=7, name="resumed", resume="auto")
    assert resumed.report.rows == straight.report.rows
    a, b = (torch.load(r.checkpoint, weights_only=False) for r in (straight, resumed))
    assert torch.equal(a["algorithm_state"]["weights"], b["algorithm_state"]["weights"])
    scalars = lambda r: [e.value for e in EventAccumulator(str(r.run_dir)).Reload().Scalars("eval/mean/mse")]  # noqa: E731
    assert scalars(resumed) == scalars(straight)


def test_evaluation_schedule_does_not_change_training(tmp_path):
    often = run(tmp_path, budget=20, eval_every=3, name="often")
    rarely = run(tmp_path, budget=20, eval_every=20, name="rarely")
    assert often.report.rows == rarely.report.rows


def test_refuses_to_overwrite_a_run_and_names_the_way_out(tmp_path):
    run(tmp_path, budget=5)
    with pytest.raises(CheckpointError, match="--run.resume auto"):
        run(tmp_path, budget=5)


def test_resume_with_another_config_is_refused(tmp_path):
    run(tmp_path, budget=5)
    with pytest.raises(CheckpointError, match="learning_rate: checkpoint 0.05 vs now 0.1"):
        run(tmp_path, DummyConfig(learning_rate=0.1), budget=10, resume="auto")
    with pytest.raises(CheckpointError, match="tasks: checkpoint 3 vs now 2"):
        run(tmp_path, DummyConfig(tasks=2), budget=10, name="other", resume=str(tmp_path / "run"))


def test_resume_auto_without_checkpoint_starts_fresh(tmp_path, capsys):
    assert run(tmp_path, budget=3, resume="auto").progress == 3
    assert "starting a fresh run" in capsys.readouterr().out


def test_finished_run_resumed_with_larger_budget_continues(tmp_path):
    run(tmp_path, budget=10)
    assert run(tmp_path, budget=15, resume="auto").progress == 15


def test_bad_metric_keys_and_configs_are_rejected(tmp_path, monkeypatch):
    monkeypatch.setattr(DummyRegression, "step", lambda self: (setattr(self, "updates", self.updates + 1), {"mse": 1.0})[1])
    with pytest.raises(ValueError, match="'mse' must be prefixed"):
        run(tmp_path, budget=3)
    with pytest.raises(ValueError, match="keep_checkpoints must be at least 1"):
        RunConfig(keep_checkpoints=0)
    with pytest.raises(ValueError, match="budget must be a positive"):
        RunConfig(budget=0)


TINY_ENV = EnvConfig(benchmark="MT1", task="reach", eval_episodes_per_task=1, eval_max_steps=15)
TINY_CONFIGS = {
    "mtsac": ("agents.mtsac", "MTSACConfig", {
        "surgery": "pcgrad", "hidden_sizes": (16, 16), "per_task_batch": 8, "warmup_steps": 10, "buffer_capacity_per_task": 500,
        "compile": "off"},
        TINY_ENV),
    "sb3-sac": ("agents.sb3", "SB3SACConfig", {
        "steps_per_call": 5, "learning_starts": 10, "net_arch": (16, 16), "batch_size": 8, "buffer_size": 500}, TINY_ENV),
    "msr": ("meta.symmetry", "MSRConfig", {"meta_batch": 4, "eval_tasks": 8, "num_tasks": 200}, None),
    "maml": ("meta.symmetry", "MAMLConfig", {"meta_batch": 4, "eval_tasks": 8, "num_tasks": 200}, None),
}


@pytest.mark.parametrize("algorithm", sorted(TINY_CONFIGS))
def test_real_learner_resumed_run_matches_an_uninterrupted_one(tmp_path, algorithm):
    module_name, config_name, values, env = TINY_CONFIGS[algorithm]
    config = getattr(pytest.importorskip(module_name), config_name)(**values)
    options = {"runs_dir": tmp_path, "progress_bar": False, "deterministic": True, "eval_every": 20, "log_every": 1}
    straight = run_training(algorithm, config, RunConfig(budget=50, name="straight", **options), env=env)
    run_training(algorithm, config, RunConfig(budget=25, name="resumed", **options), env=env)
    resumed = run_training(algorithm, config, RunConfig(budget=50, name="resumed", resume="auto", **options), env=env)
    assert resumed.report.rows == straight.report.rows
    events = [EventAccumulator(str(r.run_dir)).Reload() for r in (straight, resumed)]
    loss_tags = sorted(tag for tag in events[0].Tags()["scalars"] if tag.startswith("losses/"))
    assert loss_tags
    for tag in loss_tags:  # every logged loss after the resume point is bit-identical
        after = [[(e.step, e.value) for e in ev.Scalars(tag) if e.step > 25] for ev in events]
        assert after[0] == after[1] and after[0], tag
