"""The path a user walks, through the command line (subprocesses, as a user runs it):
their own task trained, evaluated and rendered; budgets honoured; SIGTERM, resume
from the run directory alone, damaged checkpoints; the files a run directory holds."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys

import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from launch.checkpoint import list_checkpoints, progress_of
from test_cli import DUMMY_RUN, ROOT, TESTS, WITH_DUMMY, start, table_rows, wait_for_checkpoint

README = (ROOT / "README.md").read_text()
TINY_MTSAC = ["--algorithm.compile", "off", "--algorithm.hidden-sizes", "16", "16", "--algorithm.per-task-batch", "8",
              "--algorithm.warmup-steps", "2", "--algorithm.buffer-capacity-per-task", "200", "--env.eval-episodes-per-task", "1",
              "--env.eval-max-steps", "10", "--run.no-progress-bar"]


def launch(*args, cwd=ROOT, pythonpath=(), dummy=False, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS), *map(str, pythonpath)]), "MUJOCO_GL": "egl"}
    prefix = ["-c", WITH_DUMMY] if dummy else ["-m", "launch"]
    return subprocess.run([sys.executable, *prefix, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, **kwargs)


def ok(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done


def one_line_error(done: subprocess.CompletedProcess, expected: str) -> None:
    assert done.returncode == 2, (done.stdout[-1000:], done.stderr[-2000:])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], done.stderr
    assert "__tyro" not in done.stderr


def readme_task_module() -> str:
    """The README's task module: the Python block of 'Registering your own task'."""
    section = README.split("### Registering your own task", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_a_task_from_an_installed_package_trains_evaluates_and_renders_from_the_cli(tmp_path):
    package = tmp_path / "package"
    package.mkdir()
    (package / "my_tasks.py").write_text(readme_task_module())
    (package / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "touch-puck-tasks"\nversion = "0.1.0"\n\n'
        '[project.entry-points."polytask.tasks"]\ntouch-puck = "my_tasks"\n\n[tool.setuptools]\npy-modules = ["my_tasks"]\n')
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(site),
                    str(package)], check=True, capture_output=True, timeout=300)
    listed = ok(launch("list", pythonpath=[site]))
    assert re.search(r"touch-puck .*\[touch-puck-tasks \(entry point touch-puck = my_tasks\)\]", listed.stdout), listed.stdout
    runs = tmp_path / "runs"
    trained = ok(launch("train", "mtsac", "--env.benchmark", "MT1", "--env.task", "touch-puck", "--run.budget", 30,
                        "--run.runs-dir", runs, "--run.name", "touch", *TINY_MTSAC, pythonpath=[site]))
    assert table_rows(trained.stdout)[2].split()[0] == "touch-puck"
    evaluated = ok(launch("eval", runs / "touch", pythonpath=[site]))
    assert table_rows(evaluated.stdout) == table_rows(trained.stdout)
    rendered = ok(launch("render", "--task", "touch-puck", "--checkpoint", runs / "touch", "--out", tmp_path / "touch.gif",
                         "--size", 32, "--max-steps", 5, pythonpath=[site]))
    assert "mtsac policy" in rendered.stdout and (tmp_path / "touch.gif").stat().st_size > 0


def test_a_task_of_a_module_needs_its_import_and_a_missing_module_is_one_line(tmp_path):
    """The README walk (tests/test_readme.py) trains, evaluates and renders with --import my_tasks."""
    (tmp_path / "my_tasks.py").write_text(readme_task_module())
    one_line_error(launch("train", "mtsac", "--env.benchmark", "MT1", "--env.task", "touch-puck", cwd=tmp_path),
                   "unknown task 'touch-puck'")
    one_line_error(launch("--import", "no_such_module", "list", cwd=tmp_path), "cannot import module 'no_such_module'")


def test_sb3_stops_at_the_budget_within_one_vector_step_and_writes_a_small_checkpoint(tmp_path):
    ok(launch("train", "sb3-sac", "--env.benchmark", "MT10", "--run.budget", 100, "--algorithm.learning-starts", 5,
              "--algorithm.net-arch", 16, 16, "--env.eval-episodes-per-task", 1, "--env.eval-max-steps", 5,
              "--run.runs-dir", tmp_path, "--run.name", "sb3", "--run.no-progress-bar"))
    checkpoints = list_checkpoints(tmp_path / "sb3")
    assert [progress_of(p) for p in checkpoints] == [100], "100 env steps: 10 for each of MT10's ten models"
    # replay buffers hold their filled rows only (SB3's own save writes all 100k preallocated ones per task)
    assert checkpoints[-1].stat().st_size < 5e6


def test_a_budget_within_the_warmup_is_refused_saying_what_to_change(tmp_path):
    one_line_error(launch("train", "mtsac", "--run.budget", 2000, "--run.runs-dir", tmp_path, "--algorithm.compile", "off"),
                   "its first update comes at 50000 env_steps")
    done = launch("train", "sb3-sac", "--run.budget", 500, "--run.runs-dir", tmp_path)
    one_line_error(done, "--algorithm.learning-starts")


def test_sigterm_checkpoints_and_the_run_resumes_bit_exactly(tmp_path):
    common = ["train", "dummy", "--run.budget", 40, "--run.checkpoint-every", 5, "--run.runs-dir", tmp_path, *DUMMY_RUN,
              "--algorithm.seconds-per-step", 0.05]
    ok(launch(*common, "--run.name", "straight", dummy=True))
    process = start(*common, "--run.name", "stopped")
    wait_for_checkpoint(tmp_path / "stopped", process, at_least=10)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert "SIGTERM" in stdout and "python -m launch resume" in stdout
    saved = progress_of(list_checkpoints(tmp_path / "stopped")[-1])
    assert 10 <= saved < 40
    resumed = ok(launch("resume", tmp_path / "stopped", dummy=True))  # nothing but the run directory
    assert f"at {saved} updates" in resumed.stdout
    reports = [json.loads((tmp_path / name / "report.json").read_text())["rows"] for name in ("straight", "stopped")]
    assert reports[0] == reports[1]
    curves = [list(csv.DictReader(open(tmp_path / name / "curves.csv"))) for name in ("straight", "stopped")]
    assert curves[0] == curves[1] and {row["task"] for row in curves[0]} == {"reach", "push", "pick-place", "mean"}


def test_resume_after_ctrl_c_needs_no_options_and_refuses_changed_configs(tmp_path):
    common = ["--run.runs-dir", tmp_path, "--run.name", "run"]
    process = start("train", "dummy", "--run.budget", 400, *common, *DUMMY_RUN, "--algorithm.seconds-per-step", 0.02,
                    "--algorithm.learning-rate", 0.02)
    wait_for_checkpoint(tmp_path / "run", process, at_least=10)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    # no preset, no --algorithm options: everything comes from the checkpoint
    one_line_error(launch("train", "--run.resume", "auto", *common, "--algorithm.learning-rate", 0.5, dummy=True),
                   "--algorithm.learning-rate: checkpoint 0.02 vs now 0.5")
    one_line_error(launch("train", "mt10-pcgrad", "--run.resume", "auto", *common, dummy=True), "started from 'dummy'")
    one_line_error(launch("train", "--run.resume", "auto", *common, "--run.seed", 7, dummy=True), "--run.seed: checkpoint 1 vs now 7")
    finished = ok(launch("train", "--run.resume", "auto", *common, "--run.budget", 30, dummy=True))
    assert "resumed" in finished.stdout
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["algorithm_config"]["learning_rate"] == 0.02 and config["run_config"]["budget"] == 30
    one_line_error(launch("resume", tmp_path / "run", "--run.budget", 20, dummy=True), "beyond --run.budget 20")


def test_a_finished_run_extended_continues_its_evaluation_schedule(tmp_path):
    common = ["train", "dummy", "--run.runs-dir", tmp_path, "--run.name", "run", "--run.eval-every", 10, *DUMMY_RUN[:2]]
    ok(launch(*common, "--run.budget", 20, dummy=True))
    ok(launch(*common, "--run.budget", 35, "--run.resume", "auto", dummy=True))
    events = EventAccumulator(str(tmp_path / "run")).Reload()
    assert [e.step for e in events.Scalars("eval/mean/mse")] == [10, 20, 30, 35]
    rows = list(csv.DictReader(open(tmp_path / "run" / "curves.csv")))
    assert sorted({int(row["progress"]) for row in rows}) == [10, 20, 30, 35]


def test_a_run_starts_from_a_config_file_and_writes_the_files_a_researcher_expects(tmp_path):
    ok(launch("train", "mt1-reach-sac", "--run.budget", 20, "--run.eval-every", 10, "--run.runs-dir", tmp_path,
              "--run.eval-video", 1, *TINY_MTSAC))
    run_dir = tmp_path / "mt1-reach-sac-s1"
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["label"] == "mt1-reach-sac" and config["env_config"]["task"] == "reach" and config["algorithm_config"]["gamma"] == 0.95
    assert sorted(p.name for p in (run_dir / "videos").iterdir()) == ["000000000010", "000000000020"]
    assert (run_dir / "videos" / "000000000020" / "reach-0.gif").stat().st_size > 0
    events = EventAccumulator(str(run_dir), size_guidance={"images": 0}).Reload()
    assert "eval/reach/video_0" in events.Tags()["images"]
    ok(launch("train", "--config", run_dir / "config.yaml", "--run.name", "again", "--run.eval-video", 0))
    assert json.loads((tmp_path / "again" / "report.json").read_text())["rows"] == json.loads((run_dir / "report.json").read_text())["rows"]
    one_line_error(launch("train", "--config", tmp_path / "nothing.yaml"), "--config")


def test_training_metrics_per_task_reach_tensorboard(tmp_path):
    ok(launch("train", "mt10-mtsac", "--run.budget", 5020, "--run.eval-every", 5020, "--run.log-every", 10,
              "--run.runs-dir", tmp_path, "--env.eval-episodes-per-task", 1, "--env.eval-max-steps", 5, *TINY_MTSAC))
    tags = set(EventAccumulator(str(tmp_path / "mt10-mtsac-s1")).Reload().Tags()["scalars"])
    for task in ("reach", "window-close"):
        assert {f"charts/{task}/episode_success", f"charts/{task}/episode_return"} <= tags


def test_a_damaged_checkpoint_is_refused(tmp_path):
    ok(launch("train", "dummy", "--run.budget", 10, "--run.runs-dir", tmp_path, *DUMMY_RUN, dummy=True))
    path = list_checkpoints(tmp_path / "dummy-s1")[-1]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    one_line_error(launch("eval", tmp_path / "dummy-s1", dummy=True), "is damaged")
    one_line_error(launch("resume", tmp_path / "dummy-s1", "--run.budget", 20, dummy=True), "is damaged")


@pytest.mark.parametrize("args, expected", [
    (["render", "--task", "reach", "--out", "x.gif", "--camera", "cornr"], "Did you mean 'corner'"),
    (["train", "mtsac", "--run.budget", "0"], "run.budget must be a positive integer"),
    (["train", "mtsac", "--algorithm.surgry", "pcgrad"], "did you mean --algorithm.surgery"),
    (["train", "mtsac", "--env.suite", "mujoco"], "Accepted: metaworld, polytask"),
    (["train", "sb3-sac", "--env.benchmark", "MT100"], "Did you mean 'MT10'"),
    (["train", "mtsac", "--env.suite", "metaworld", "--env.batched", "True"], "leave env.batched unset"),
    (["train", "mtsac", "--env.batched"], "--env.batched: needs a value"),
    (["train", "mtsac", "--env.benchmark", "ML10"], "use an MT benchmark or env.eval_split=train"),
    (["eval", "runs/none", "--split", "valid"], "Accepted: test, train"),
    (["resume", "no/such/run"], "no run directory"),
    (["render", "--task", "reach", "--out", "x.gif", "--variation", "50"], "--variation must be in [0, 50)"),
])
def test_bad_input_is_one_line_and_exit_2(args, expected):
    one_line_error(launch(*args), expected)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_hints_name_the_flags_of_the_command_given(tmp_path):
    ok(launch("train", "dummy", "--run.budget", 5, "--run.runs-dir", tmp_path, *DUMMY_RUN, dummy=True))
    one_line_error(launch("eval", tmp_path / "dummy-s1", "--device", "cuda", dummy=True), "use --device cpu or auto")


def test_sb3_config_takes_a_multi_task_benchmark_without_its_default_task(tmp_path):
    done = ok(launch("train", "sb3-sac", "--env.benchmark", "MT10", "--run.budget", 20, "--algorithm.learning-starts", 1,
                     "--algorithm.net-arch", 8, "--env.eval-episodes-per-task", 1, "--env.eval-max-steps", 2,
                     "--run.runs-dir", tmp_path, "--run.no-progress-bar"))
    assert len(table_rows(done.stdout)) == 2 + 10 + 1  # header, rule, ten tasks, mean


def test_help_into_a_closed_pipe_and_renderers_at_exit_print_no_traceback():
    pipe = subprocess.run(f"{sys.executable} -m launch train sb3-sac --help | head -3", shell=True, cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert pipe.stdout and "Traceback" not in pipe.stderr and "BrokenPipe" not in pipe.stderr
    snippet = ("import gymnasium as gym, envs\nenv = gym.make('polytask/pick-place-v0', render_mode='rgb_array')\n"
               "env.reset(seed=0)\nassert env.render().shape == (480, 480, 3)\n")
    done = subprocess.run([sys.executable, "-c", snippet], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "MUJOCO_GL": "egl"})
    assert done.returncode == 0 and "Traceback" not in done.stderr and "EGLError" not in done.stderr, done.stderr
