"""The compiled SAC update: the same numbers as the eager one, no recompiles
after its warm-up, and a resumed compiled run bit for bit an uninterrupted one
in deterministic mode. Compiling costs tens of seconds per surgery here, so
every test shares the same two configurations (one Dynamo graph each)."""

import copy
import dataclasses
import io

import pytest
import torch
import torch._dynamo

from agents.mtsac import MTSAC, MTSACConfig
from envs.suite import EnvConfig

torch.set_num_threads(1)
CPU = torch.device("cpu")
ENV = EnvConfig(benchmark="MT10", eval_episodes_per_task=1, eval_max_steps=5)


def config(surgery: str, compile_mode: str) -> MTSACConfig:
    return MTSACConfig(surgery=surgery, compile=compile_mode, hidden_sizes=(16, 16), per_task_batch=8, warmup_steps=2,
                       buffer_capacity_per_task=200)


@pytest.fixture(scope="module", autouse=True)
def deterministic():
    """Deterministic mode for the whole module: it is part of what a compiled graph is guarded on."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(before)


def snapshot(state: dict) -> dict:
    data = io.BytesIO()
    torch.save(state, data)
    data.seek(0)
    return torch.load(data, weights_only=False)


def graphs() -> int:
    return torch._dynamo.utils.counters["stats"]["unique_graphs"]


@pytest.mark.parametrize("surgery", ["pcgrad", "famo"])
def test_compiled_update_matches_eager_and_never_recompiles(surgery):
    eager, compiled = (MTSAC(config(surgery, mode), env=ENV, device=CPU, seed=0) for mode in ("off", "on"))
    assert compiled.sac.compiled and not eager.sac.compiled
    for agent in (eager, compiled):
        for _ in range(2):
            agent.step()  # warm-up steps, then one update (the compiled one compiles here)
    compiled.load_state_dict(copy.deepcopy(eager.state_dict()))
    before = graphs()
    for _ in range(4):
        metrics = [agent.step() for agent in (eager, compiled)]
        assert metrics[0].keys() == metrics[1].keys()
        for key, value in metrics[0].items():
            assert metrics[1][key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
    for a, b in zip(eager.actor.parameters(), compiled.actor.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert graphs() == before, "an update after the warm-up compiled a new graph"
    if surgery == "famo":  # its logits moved in the compiled graph as they do eagerly
        torch.testing.assert_close(eager.sac.critic_surgery.logits, compiled.sac.critic_surgery.logits, rtol=1e-4, atol=1e-6)
        assert not torch.equal(compiled.sac.critic_surgery.logits, torch.zeros(10))


def test_resumed_compiled_run_is_bit_exact():
    straight = MTSAC(config("pcgrad", "on"), env=ENV, device=CPU, seed=3)
    for _ in range(5):
        straight.step()
    state = snapshot(straight.state_dict())
    expected = [straight.step() for _ in range(4)]
    resumed = MTSAC(config("pcgrad", "on"), env=ENV, device=CPU, seed=99)
    resumed.load_state_dict(state)
    assert [resumed.step() for _ in range(4)] == expected
    for a, b in zip(straight.critic.parameters(), resumed.critic.parameters()):
        assert torch.equal(a, b)


def test_compile_off_runs_eagerly_and_auto_follows_the_machine():
    from agents.sac_update import resolve_compile

    assert not MTSAC(config("none", "off"), env=ENV, device=CPU, seed=0).sac.compiled
    assert resolve_compile("off", CPU) is False and resolve_compile("on", CPU) is True
    with pytest.raises(ValueError, match="compile must be one of auto, on, off"):
        MTSAC(dataclasses.replace(config("none", "off"), compile="sometimes"), env=ENV, device=CPU, seed=0)


def test_update_speed_benchmark_prints_its_table(capsys):
    """A smoke run of benchmarks/update_speed.py on this module's graph: it runs and prints; no timing is asserted."""
    from benchmarks import update_speed

    update_speed.main(["--tasks", "10", "--sizes", "tiny", "--surgeries", "pcgrad", "--rounds", "1", "--per-round", "1", "--no-end-to-end"])
    out = capsys.readouterr().out
    assert "(a) one MT-SAC update" in out and "compiled/eager" in out
    row = next(line for line in out.splitlines() if "pcgrad" in line).split()
    assert row[:3] == ["10", "16x16/8", "pcgrad"] and float(row[3]) > 0 and float(row[4]) > 0
    assert 0 < float(row[-1]) < 1  # the GEMM share of the eager update
