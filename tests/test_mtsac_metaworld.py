"""MTSAC trains and evaluates on Meta-World itself (``--env.suite metaworld``)."""

import subprocess
import sys

import pytest

pytest.importorskip("metaworld", reason="Meta-World is an optional extra: pip install polytask[metaworld]")


def test_pcgrad_preset_runs_on_metaworld_mt10_and_reports_per_task_success(tmp_path):
    command = [
        sys.executable, "-m", "launch", "train", "mt10-pcgrad", "--env.suite", "metaworld",
        "--run.budget", "200", "--run.eval-every", "200", "--env.eval-episodes-per-task", "1",
        "--algorithm.warmup-steps", "5", "--algorithm.compile", "off",
        "--run.runs-dir", str(tmp_path), "--run.name", "mw",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    table = result.stdout
    for task in ("reach-v3", "push-v3", "window-close-v3"):
        assert task in table
    assert "success_rate" in table
    assert (tmp_path / "mw" / "report.json").exists()
