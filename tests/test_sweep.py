"""``python -m launch sweep`` on a local Ray instance: trials through the shared loop, a killed trial resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launch.errors import UsageError
from launch.sweep import parse_seeds, parse_sweep
from test_cli import ROOT, TESTS
from test_user_path import launch, ok, one_line_error


def test_seeds_grid_and_trial_options_are_parsed_and_checked(tmp_path):
    assert parse_seeds("0-3") == [0, 1, 2, 3] and parse_seeds("1,4,7") == [1, 4, 7] and parse_seeds("5") == [5]
    for bad in ("a-b", "3,3", "-1", ""):
        with pytest.raises(UsageError, match="--seeds"):
            parse_seeds(bad)
    plan = parse_sweep(["maml-k1", "--seeds", "0-1", "--grid", "algorithm.inner-lr=0.1,0.2", "--run.budget", "4",
                        "--run.runs-dir", str(tmp_path), "--cpus-per-trial", "0.5"])
    names = [plan.trial_name(t) for t in plan.trials()]
    assert names == ["maml-k1-inner-lr=0.1-s0", "maml-k1-inner-lr=0.1-s1", "maml-k1-inner-lr=0.2-s0", "maml-k1-inner-lr=0.2-s1"]
    assert plan.directory == (tmp_path / "maml-k1-sweep-inner-lr").resolve() and plan.cpus_per_trial == 0.5
    argv = plan.train_argv(plan.trials()[3])
    assert argv[:4] == ["train", "maml-k1", "--run.budget", "4"] and ["--algorithm.inner-lr", "0.2"] == argv[4:6]
    assert "--run.resume" in argv and argv[argv.index("--run.seed") + 1] == "1"
    with pytest.raises(UsageError, match="unrecognized options: --algorithm.inner-rate"):
        parse_sweep(["maml-k1", "--grid", "algorithm.inner-rate=0.1,0.2"])
    with pytest.raises(UsageError, match="sweep sets --run.seed"):
        parse_sweep(["maml-k1", "--run.seed", "3"])
    with pytest.raises(UsageError, match="--grid takes GROUP.FIELD=V1,V2"):
        parse_sweep(["maml-k1", "--grid", "surgery=none"])


def test_without_ray_sweep_says_how_to_install_it(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "ray.py").write_text("raise ImportError('no ray here')\n")
    one_line_error(launch("sweep", "maml-k1", "--run.budget", "4", "--run.runs-dir", tmp_path, pythonpath=[blocker]),
                   "pip install 'polytask[sweep]'")


def _pids_whose_command_has(*words: bytes) -> list[int]:
    """Processes whose command line holds every one of ``words`` as an argument or a part of one."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if all(word in cmdline for word in words):
                found.append(int(entry.name))
    return found


@pytest.mark.slow  # a local Ray instance and two training processes: about 85 s
def test_a_sweep_runs_its_trials_resumes_a_killed_one_and_compares_them(tmp_path):
    pytest.importorskip("ray")
    pytest.importorskip("rliable")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)]), "RAY_ADDRESS": ""}
    sweep = subprocess.Popen(
        [sys.executable, "-m", "launch", "sweep", "maml-k1", "--seeds", "0-1", "--max-failures", "2", "--run.budget", "3000",
         "--run.checkpoint-every", "250", "--run.eval-every", "3000", "--algorithm.eval-tasks", "20",
         "--run.runs-dir", str(tmp_path)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    directory = tmp_path / "maml-k1-sweep"
    try:
        deadline = time.monotonic() + 400
        while not list((directory / "maml-k1-s0").glob("checkpoint_*.pt")):
            assert sweep.poll() is None, sweep.communicate()
            assert time.monotonic() < deadline, "the first trial wrote no checkpoint"
            time.sleep(0.5)
        killed = [pid for pid in _pids_whose_command_has(b"launch", b"train", b"maml-k1-s0\0") if pid != os.getpid()]
        assert killed, "the first trial's training process is running"
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        stdout, stderr = sweep.communicate(timeout=600)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 0, (stdout[-2000:], stderr[-3000:])
    assert "2 trials done" in stdout
    log = (directory / "maml-k1-s0.log").read_text()
    assert "resumed" in log and "from" in log, log[-2000:]
    for seed in (0, 1):
        report = json.loads((directory / f"maml-k1-s{seed}" / "report.json").read_text())
        assert "k1" in report["rows"]
    assert not _pids_whose_command_has(b"raylet"), "the local Ray instance stopped with the sweep"
    done = ok(launch("compare", directory, "--metric", "test_mse", "--reps", "100"))
    assert "maml-k1" in done.stdout and "IQM" in done.stdout
