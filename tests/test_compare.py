"""``python -m launch compare``: its statistics against a hand computation on fixed data, and its input errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from launch.cli import main
from launch.compare import CompareArgs, compare, format_comparison
from launch.errors import UsageError
from test_user_path import launch, one_line_error

pytest.importorskip("rliable")

#: success rates of 5 seeds x 4 tasks for two methods (fixed data)
SCORES = {
    "mt10-pcgrad": np.array([[0.9, 0.2, 0.5, 0.0], [0.8, 0.4, 0.6, 0.1], [1.0, 0.1, 0.4, 0.0], [0.7, 0.3, 0.7, 0.2], [0.9, 0.5, 0.3, 0.0]]),
    "mt10-mtsac": np.array([[0.8, 0.1, 0.5, 0.0], [0.6, 0.2, 0.2, 0.0], [0.9, 0.3, 0.4, 0.1], [0.5, 0.0, 0.6, 0.0], [0.7, 0.2, 0.1, 0.0]]),
}
TASKS = ("reach", "push", "door-open", "pick-place")


def write_runs(root, scores=SCORES, label_field=None):
    for label, matrix in scores.items():
        for seed, row in enumerate(matrix):
            run = root / f"{label}-s{seed}"
            run.mkdir(parents=True)
            config = {"surgery": label.split("-")[-1]}
            record = {"algorithm": "mtsac", "label": label_field or label, "algorithm_config": config,
                      "env_config": {"benchmark": "MT10"}, "run_config": {"seed": seed, "name": run.name, "runs_dir": str(root)}}
            (run / "config.yaml").write_text(yaml.safe_dump(record))
            rows = {task: {"success_rate": float(value), "return": 100.0} for task, value in zip(TASKS, row)}
            (run / "report.json").write_text(json.dumps({"title": "t", "rows": rows, "mean": {}}))
            lines = ["progress,task,success_rate"]
            for progress, factor in ((500, 0.5), (1000, 1.0)):
                lines += [f"{progress},{task},{factor * value}" for task, value in zip(TASKS, row)]
                lines.append(f"{progress},mean,{factor * row.mean()}")
            (run / "curves.csv").write_text("\n".join(lines) + "\n")


def iqm(matrix):
    values = np.sort(matrix.ravel())
    n = len(values)
    return values[n // 4 : n - n // 4].mean()  # 20 values: the middle 10 (scipy's trim_mean(..., 0.25))


def probability_of_improvement(x, y):
    per_task = [np.mean([(a > b) + 0.5 * (a == b) for a in x[:, t] for b in y[:, t]]) for t in range(x.shape[1])]
    return float(np.mean(per_task))


def test_compare_matches_a_hand_computation_on_fixed_data(tmp_path):
    write_runs(tmp_path / "runs")
    result, written = compare(CompareArgs(runs=(tmp_path / "runs",), reps=300))
    assert set(result["methods"]) == set(SCORES) and result["metric"] == "success_rate" and result["tasks"] == list(TASKS)
    for method, matrix in SCORES.items():
        info = result["methods"][method]
        assert info["runs"] == 5
        np.testing.assert_allclose(info["IQM"][0], iqm(matrix))
        np.testing.assert_allclose(info["mean"][0], matrix.mean())
        np.testing.assert_allclose(info["median"][0], np.median(matrix.mean(axis=0)))  # of the per-task means
        np.testing.assert_allclose(info["optimality gap"][0], np.mean(1.0 - np.minimum(matrix, 1.0)))
        for name in ("IQM", "mean", "median", "optimality gap"):
            estimate, low, high = info[name]
            assert low <= estimate <= high and high > low
        # the curve's last point is the final report's IQM; the first, half of every score
        progress, final, _, _ = result["curves"][method][-1]
        assert progress == 1000 and np.isclose(final, iqm(matrix)) and np.isclose(result["curves"][method][0][1], iqm(matrix * 0.5))
    pairs = result["probability_of_improvement"]
    assert list(pairs) == ["mt10-mtsac > mt10-pcgrad"], "each pair once, in the order the runs were found"
    forward, _ = compare(CompareArgs(runs=(tmp_path / "runs",), reps=300, baseline="mt10-mtsac"))
    forward = forward["probability_of_improvement"]["mt10-pcgrad > mt10-mtsac"]
    np.testing.assert_allclose(forward[0], probability_of_improvement(SCORES["mt10-pcgrad"], SCORES["mt10-mtsac"]))
    assert forward[1] <= forward[0] <= forward[2]
    backward, _ = compare(CompareArgs(runs=(tmp_path / "runs",), reps=50, baseline="mt10-pcgrad"))
    np.testing.assert_allclose(backward["probability_of_improvement"]["mt10-mtsac > mt10-pcgrad"][0], 1 - forward[0])
    assert {p.name for p in written} >= {"compare.json", "compare.csv"} and all(p.exists() for p in written)
    assert written[0].parent == tmp_path / "runs" / "compare"
    text = format_comparison(result)
    assert "mt10-mtsac > mt10-pcgrad" in text and "IQM" in text


def test_runs_of_one_label_split_by_the_fields_that_differ(tmp_path):
    write_runs(tmp_path, label_field="mtsac")
    result, _ = compare(CompareArgs(runs=(tmp_path,), reps=50))
    assert set(result["methods"]) == {"mtsac surgery=pcgrad", "mtsac surgery=mtsac"}
    result, _ = compare(CompareArgs(runs=(tmp_path,), reps=50, by=("env_config.benchmark",)))
    assert set(result["methods"]) == {"mtsac benchmark=MT10"} and result["methods"]["mtsac benchmark=MT10"]["runs"] == 10


def test_a_field_that_only_later_runs_have_does_not_split_a_method(tmp_path):
    """A sweep's later trials, written by a version with one more config field (at its default)."""
    write_runs(tmp_path, label_field="mtsac")
    for run in sorted(tmp_path.iterdir())[::2]:
        record = yaml.safe_load((run / "config.yaml").read_text())
        record["env_config"]["simulation_actors"] = 0
        (run / "config.yaml").write_text(yaml.safe_dump(record))
    result, _ = compare(CompareArgs(runs=(tmp_path,), reps=50))
    assert {name: method["runs"] for name, method in result["methods"].items()} == {"mtsac surgery=pcgrad": 5, "mtsac surgery=mtsac": 5}


def test_methods_on_different_tasks_are_scored_on_their_own_and_not_paired(tmp_path):
    write_runs(tmp_path, {"mt10-pcgrad": SCORES["mt10-pcgrad"]})
    write_runs(tmp_path, {"mt1-reach-sac": SCORES["mt10-mtsac"][:, :1]})
    result, _ = compare(CompareArgs(runs=(tmp_path,), reps=50))
    assert result["tasks"] is None and result["methods"]["mt1-reach-sac"]["tasks"] == ["reach"]
    np.testing.assert_allclose(result["methods"]["mt1-reach-sac"]["mean"][0], SCORES["mt10-mtsac"][:, 0].mean())
    assert result["probability_of_improvement"] == {}
    assert "each method's own tasks" in format_comparison(result)


def test_bad_input_is_one_clear_line(tmp_path):
    with pytest.raises(UsageError, match="no runs"):
        compare(CompareArgs(runs=(tmp_path,)))
    write_runs(tmp_path / "runs")
    with pytest.raises(UsageError, match="no run reports 'acuracy'; reported: return, success_rate"):
        compare(CompareArgs(runs=(tmp_path / "runs",), metric="acuracy"))
    with pytest.raises(UsageError, match="unknown --baseline method 'mt10-pcgrd'. Did you mean 'mt10-pcgrad'"):
        compare(CompareArgs(runs=(tmp_path / "runs",), baseline="mt10-pcgrd"))
    with pytest.raises(UsageError, match="have no field algorithm_config.surgry"):
        compare(CompareArgs(runs=(tmp_path / "runs",), by=("algorithm_config.surgry",)))
    one_line_error(launch("compare", tmp_path / "nowhere"), "no such directory")


def test_cli_compares_real_runs_of_the_loop(tmp_path, capsys):
    # the CLI's entry point in process: two real runs of the loop, then compare over their directory
    for seed in ("1", "2"):
        assert main(["train", "maml-k1", "--run.budget", "4", "--algorithm.eval-tasks", "20", "--run.seed", seed,
                     "--run.runs-dir", str(tmp_path), "--run.no-progress-bar"]) == 0
    capsys.readouterr()
    assert main(["compare", str(tmp_path), "--metric", "test_mse", "--reps", "100"]) == 0
    out = capsys.readouterr().out
    assert "maml-k1" in out and "test_mse over 1 task(s)" in out
    assert (tmp_path / "compare" / "compare.json").exists()


def test_without_rliable_compare_says_how_to_install_it(tmp_path, monkeypatch):
    write_runs(tmp_path)
    monkeypatch.setitem(__import__("sys").modules, "rliable", None)  # import rliable now raises ImportError
    with pytest.raises(UsageError, match=r"pip install 'polytask\[compare\]'"):
        compare(CompareArgs(runs=(tmp_path,), reps=50))
