"""``python -m launch`` end to end, as a user runs it: every subcommand on a
tiny budget, resume after SIGKILL and after Ctrl-C, and bad input exiting 2
with near matches."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import pytest
import torch

from launch.checkpoint import list_checkpoints, progress_of

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
# The dummy learner lives in test_loop; this registers it, then runs the real CLI entry point.
WITH_DUMMY = "import sys, test_loop; from launch.cli import main; sys.exit(main())"
DUMMY_RUN = ["--run.deterministic", "--run.no-progress-bar", "--run.eval-every", "10"]


def env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)]), "MUJOCO_GL": "egl"}


def launch(*args, dummy: bool = False, **kwargs) -> subprocess.CompletedProcess:
    prefix = ["-c", WITH_DUMMY] if dummy else ["-m", "launch"]
    return subprocess.run([sys.executable, *prefix, *map(str, args)], cwd=ROOT, env=env(), capture_output=True,
                          text=True, timeout=300, **kwargs)


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WITH_DUMMY, *map(str, args)], cwd=ROOT, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_checkpoint(run_dir: Path, process: subprocess.Popen, at_least: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        found = list_checkpoints(run_dir)
        if found and progress_of(found[-1]) >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint >= {at_least} in {run_dir}; process returned {process.poll()}")


def table_rows(stdout: str) -> list[str]:
    """The task rows of the printed report (the title line names the run and differs)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("task "))
    return [line.rstrip() for line in lines[start:] if line and not line.startswith(("report:", "wrote"))]


def test_list_names_tasks_with_success_tests_benchmarks_algorithms_and_presets():
    done = launch("list")
    assert done.returncode == 0, done.stderr
    for expected in ("reach", "polytask/reach-v0", "within 5 cm", "MT10", "MT50", "ML45", "mtsac", "sb3-sac", "msr", "mt10-pcgrad", "msr-k1",
                     "mt1-reach-sb3-sac", "from=agents.sb3:REACH_SAC"):
        assert expected in done.stdout


def test_train_then_eval_prints_the_same_table(tmp_path):
    trained = launch("train", "dummy", "--run.budget", 12, "--run.runs-dir", tmp_path, *DUMMY_RUN, dummy=True)
    assert trained.returncode == 0, trained.stderr
    run_dir = tmp_path / "dummy-s1"
    assert (run_dir / "report.csv").exists() and list_checkpoints(run_dir)
    evaluated = launch("eval", run_dir, "--out", tmp_path / "again", dummy=True)
    assert evaluated.returncode == 0, evaluated.stderr
    assert table_rows(evaluated.stdout) == table_rows(trained.stdout)
    assert json.loads((tmp_path / "again.json").read_text())["rows"] == json.loads((run_dir / "report.json").read_text())["rows"]


def test_run_killed_mid_way_resumes_and_matches_an_uninterrupted_run(tmp_path):
    common = ["train", "dummy", "--run.budget", 40, "--run.checkpoint-every", 5, "--run.runs-dir", tmp_path, *DUMMY_RUN,
              "--algorithm.seconds-per-step", 0.02]
    straight = launch(*common, "--run.name", "straight", dummy=True)
    assert straight.returncode == 0, straight.stderr

    process = start(*common, "--run.name", "killed")
    wait_for_checkpoint(tmp_path / "killed", process, at_least=15)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert not (tmp_path / "killed" / "report.json").exists()

    resumed = launch(*common, "--run.name", "killed", "--run.resume", "auto", dummy=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stdout
    reports = [json.loads((tmp_path / name / "report.json").read_text())["rows"] for name in ("straight", "killed")]
    assert reports[0] == reports[1]


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path):
    common = ["train", "dummy", "--run.budget", 400, "--run.runs-dir", tmp_path, "--run.name", "stopped", *DUMMY_RUN,
              "--algorithm.seconds-per-step", 0.02]
    process = start(*common)
    wait_for_checkpoint(tmp_path / "stopped", process, at_least=10)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted at" in stdout and "--run.resume auto" in stdout
    newest = list_checkpoints(tmp_path / "stopped")[-1]
    saved = progress_of(newest)
    assert 10 <= saved < 400 and f"interrupted at {saved} updates; checkpoint {newest}" in stdout
    finished = launch(*common[:3], 5 + saved, *common[4:], "--run.resume", "auto", dummy=True)
    assert finished.returncode == 0, finished.stderr
    assert f"at {saved} updates" in finished.stdout


def test_render_scripted_expert_gif(tmp_path):
    done = launch("render", "--task", "reach", "--out", tmp_path / "reach.gif", "--size", 64)
    assert done.returncode == 0, done.stderr
    assert "success at step" in done.stdout
    frames = iio.imread(tmp_path / "reach.gif")
    assert frames.shape[0] > 5 and frames.shape[1:3] == (64, 64)


def test_meta_learner_trains_and_evaluates_through_the_cli(tmp_path):
    pytest.importorskip("meta.symmetry")
    trained = launch("train", "msr-k1", "--run.budget", 4, "--run.eval-every", 2, "--algorithm.eval-tasks", 10,
                     "--run.runs-dir", tmp_path, "--run.no-progress-bar")
    assert trained.returncode == 0, trained.stderr
    assert "test_mse" in trained.stdout
    evaluated = launch("eval", tmp_path / "msr-k1-s1")
    assert evaluated.returncode == 0, evaluated.stderr
    assert table_rows(evaluated.stdout) == table_rows(trained.stdout)


@pytest.mark.parametrize(
    "args, dummy, expected",
    [
        ([], False, "usage: python -m launch COMMAND"),
        (["trian"], False, "Did you mean 'train'"),
        (["train", "mt10-pcgrd"], False, "Did you mean 'mt10-pcgrad'"),
        (["render", "--task", "rech", "--out", "x.gif"], False, "Did you mean 'reach'"),
        (["render", "--task", "reach", "--out", "x.png"], False, "--out must end in .gif or .mp4"),
        (["train", "dummy", "--algorithm.benchmark", "MT100"], True, "Did you mean 'MT10'"),
        (["eval", "no/such/run"], False, "expected a checkpoint_*.pt file or a run directory"),
        (["list", "extra"], False, "'list' takes no arguments"),
        (["train", "dummy", "--run.budget", "0"], True, "run.budget must be a positive"),
        pytest.param(["train", "dummy", "--run.device", "cuda"], True, "torch sees no CUDA device",
                     marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")),
    ],
)
def test_bad_input_exits_2_naming_what_is_accepted(args, dummy, expected):
    done = launch(*args, dummy=dummy)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert expected in done.stderr and "Traceback" not in done.stderr


TINY_MTSAC = ["--algorithm.compile", "off", "--algorithm.hidden-sizes", 16, 16, "--algorithm.per-task-batch", 8, "--algorithm.warmup-steps", 2,
              "--algorithm.buffer-capacity-per-task", 200, "--env.eval-episodes-per-task", 1,
              "--env.eval-max-steps", 10, "--run.no-progress-bar"]


def test_default_preset_trains_mt10_and_ends_with_the_success_table(tmp_path):
    pytest.importorskip("agents.mtsac")
    done = launch("train", "--run.budget", 40, "--run.runs-dir", tmp_path, *TINY_MTSAC)
    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout)
    assert rows[0].split() == ["task", "success_rate", "episode_return"]
    assert [row.split()[0] for row in rows[2:]] == ["reach", "push", "pick-place", "door-open", "drawer-open", "drawer-close",
                                                     "button-press-topdown", "peg-insert-side", "window-open", "window-close", "mean"]
    saved = json.loads((tmp_path / "mt10-pcgrad-s1" / "report.json").read_text())
    assert len(saved["rows"]) == 10


def test_mtsac_checkpoint_evaluates_and_renders(tmp_path):
    pytest.importorskip("agents.mtsac")
    trained = launch("train", "mt1-reach-sac", "--run.budget", 12, "--run.runs-dir", tmp_path, *TINY_MTSAC)
    assert trained.returncode == 0, trained.stderr
    run_dir = tmp_path / "mt1-reach-sac-s1"
    evaluated = launch("eval", run_dir)
    assert evaluated.returncode == 0, evaluated.stderr
    assert table_rows(evaluated.stdout) == table_rows(trained.stdout)
    rendered = launch("render", "--task", "reach", "--checkpoint", run_dir, "--out", tmp_path / "policy.gif",
                      "--size", 32, "--max-steps", 8)
    assert rendered.returncode == 0, rendered.stderr
    assert "mtsac policy" in rendered.stdout and iio.imread(tmp_path / "policy.gif").shape[0] == 9
    wrong_task = launch("render", "--task", "push", "--checkpoint", run_dir, "--out", tmp_path / "x.gif")
    assert wrong_task.returncode == 2 and "trained on reach" in wrong_task.stderr
    bad_benchmark = launch("train", "mtsac", "--env.benchmark", "MT11", "--run.runs-dir", tmp_path)
    assert bad_benchmark.returncode == 2 and "'MT10'" in bad_benchmark.stderr
