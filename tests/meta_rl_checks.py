"""Checks every meta-RL learner must pass, shared by their test files: exact resume, the protocol's report,
and the command line (train, eval, resume after a stop, misuse)."""

from __future__ import annotations

import io

import torch


def assert_resumes_exactly(make, modules) -> None:
    """A learner saved after one iteration and loaded into a fresh one takes the same next iteration;
    ``modules(learner)`` lists the modules whose parameters must then agree."""
    straight = make()
    straight.step()
    saved = io.BytesIO()
    torch.save(straight.state_dict(), saved)
    expected = straight.step()
    resumed = make()
    saved.seek(0)
    resumed.load_state_dict(torch.load(saved, weights_only=False))
    assert resumed.step() == expected
    for a, b in zip(modules(straight), modules(resumed)):
        for p, q in zip(a.parameters(), b.parameters()):
            assert torch.equal(p, q)
    straight.close(), resumed.close()


def assert_reports_pre_and_post_adaptation(learner) -> None:
    report = learner.evaluate()
    assert list(report.rows) == ["reach"] and report.metrics == ["pre_success", "post_success", "pre_return", "post_return"]


def assert_cli_trains_evaluates_resumes_and_refuses_misuse(tmp_path, algorithm: str, tiny: list, budget: int, other: str) -> None:
    """``budget`` env steps are two iterations of ``tiny``; ``other`` is another meta-learner, refused a run of this one."""
    from test_user_path import launch, ok, one_line_error

    tiny = [*tiny, "--env.eval-episodes-per-task", "1", "--run.no-progress-bar", "--run.runs-dir", tmp_path]
    trained = ok(launch("train", algorithm, "--run.budget", str(budget), "--run.deterministic", *tiny))
    assert "pre_success" in trained.stdout and "post_success" in trained.stdout
    run = tmp_path / f"{algorithm}-s1"
    evaluated = ok(launch("eval", run))
    assert evaluated.stdout.splitlines()[-2:] == trained.stdout.splitlines()[-3:-1]  # the same table, row for row
    # a run stopped after its first checkpoint (as SIGKILL leaves it) and resumed ends as the uninterrupted one
    ok(launch("train", algorithm, "--run.budget", str(budget // 2), "--run.deterministic", "--run.name", "stopped", *tiny))
    ok(launch("resume", tmp_path / "stopped", "--run.budget", str(budget)))
    assert (tmp_path / "stopped" / "report.json").read_text().replace("stopped", "") == \
        (run / "report.json").read_text().replace(f"{algorithm}-s1", "")
    one_line_error(launch("train", algorithm, "--env.benchmark", "MT10", *tiny), "give it an ML benchmark")
    one_line_error(launch("train", other, "--run.resume", "auto", "--run.name", f"{algorithm}-s1", *tiny[-3:]), f"started from '{algorithm}'")
