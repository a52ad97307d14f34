"""Every ``python -m launch`` command the README shows works as it stands: the
commands a new user copies first.

The default run parses every documented ``train`` command in process (its
preset, algorithm and options exist); the walk that runs all of them, in the
README's order, each with a tiny budget, starts a process per command and
takes minutes, so it is marked ``slow``."""

from __future__ import annotations

import json
import re
import shlex
import time

import pytest
import yaml

from test_cli import ROOT, table_rows
from test_user_path import README, launch, readme_task_module

#: per learner, the options that make a documented command tiny (values replace the command's own)
TINY = {
    "mtsac": {"--algorithm.compile": ["off"], "--algorithm.warmup-steps": ["2"], "--algorithm.hidden-sizes": ["16", "16"],
              "--algorithm.per-task-batch": ["8"], "--algorithm.buffer-capacity-per-task": ["200"], "--run.budget": ["200"]},
    "sb3": {"--algorithm.learning-starts": ["5"], "--algorithm.net-arch": ["16", "16"], "--algorithm.batch-size": ["8"],
            "--run.budget": ["100"]},
    "msr": {"--run.budget": ["4"], "--run.eval-every": ["2"], "--algorithm.eval-tasks": ["10"]},
    "group-shift": {"--run.budget": ["4"], "--run.eval-every": ["2"], "--algorithm.support": ["20"]},
    "rl2": {"--algorithm.hidden-size": ["16"], "--algorithm.episodes-per-trial": ["2"], "--algorithm.episode-steps": ["10"],
            "--algorithm.meta-batch": ["10"], "--algorithm.epochs": ["1"], "--algorithm.minibatches": ["1"], "--run.budget": ["200"]},
    # ML10 needs a world per train task: 5 pairs x 2 rollouts, and PEARL's 10 worlds
    "maml-trpo": {"--algorithm.hidden-sizes": ["8"], "--algorithm.meta-batch": ["5"], "--algorithm.rollouts-per-task": ["2"],
                  "--algorithm.episode-steps": ["10"], "--algorithm.cg-iterations": ["2"], "--run.budget": ["400"]},
    "pearl": {"--algorithm.latent-size": ["2"], "--algorithm.encoder-hidden-sizes": ["8"], "--algorithm.hidden-sizes": ["8"],
              "--algorithm.meta-batch": ["2"], "--algorithm.tasks-per-iteration": ["10"], "--algorithm.episode-steps": ["10"],
              "--algorithm.updates-per-iteration": ["2"], "--algorithm.batch-size": ["4"], "--algorithm.context-batch": ["3"],
              "--algorithm.buffer-capacity": ["50"], "--run.budget": ["400"]},
    # model editing: a knowledge base of 60 entities and its base model trained in seconds
    "editing": {"--algorithm.entities": ["60"], "--algorithm.relations": ["3"], "--algorithm.edit-train-entities": ["15"],
                "--algorithm.edit-test-entities": ["15"], "--algorithm.width": ["32"], "--algorithm.base-updates": ["300"],
                "--algorithm.eval-edits": ["4"], "--run.budget": ["4"], "--run.eval-every": ["2"]},
}
TINY["edit-base"] = {flag: values for flag, values in TINY["editing"].items() if flag != "--algorithm.eval-edits"}
#: the edits file the README's ``launch edit`` commands read: questions of the tiny knowledge base above
TINY_EDITS = "edits.txt"
TINY_EVALUATION = {"--env.eval-episodes-per-task": ["1"], "--env.eval-max-steps": ["5"], "--run.no-progress-bar": []}
#: what a later command of the walk may change of a run an earlier one made: its budget (growing)
RESUME_BUDGETS = iter(["300", "400"])


def documented_commands() -> list[list[str]]:
    """The README's ``python -m launch`` lines of its bash blocks, comments stripped; an optional
    ``[--flag value]`` part gives the command without it, then with it."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if not line.startswith("python -m launch"):
                continue
            optional = re.search(r"\[(.*?)\]", line)
            variants = [line] if optional is None else [line.replace(optional.group(0), ""), line.replace(optional.group(0), optional.group(1))]
            commands += [shlex.split(variant)[3:] for variant in variants if shlex.split(variant)[3:] not in commands]
    return commands


def command_of(args: list[str]) -> str:
    """The subcommand of ``args`` (after any ``--import MODULE``)."""
    words = iter(args)
    for word in words:
        if word == "--import":
            next(words)
        elif not word.startswith("-"):
            return word
    return ""


def learner_of(args: list[str]) -> str | None:
    """Which TINY set a train (or sweep) command needs (None: it resumes a run, which keeps its configs)."""
    from meta.adaptation.learner import METHODS

    train = args[args.index(command_of(args)) + 1 :]
    if "--run.resume" in train or "--config" in train:
        return None
    named = train[0] if train and not train[0].startswith("-") else "mt10-pcgrad"
    if named.startswith("sb3") or "sb3" in named:
        return "sb3"
    if named == "maml-trpo" or (named.startswith("ml") and "maml" in named):
        return "maml-trpo"
    if "pearl" in named:
        return "pearl"
    if named in ("msr", "maml") or named.startswith(("msr", "maml")):
        return "msr"
    if "rl2" in named:
        return "rl2"
    if named in METHODS:
        return "group-shift"
    if named in ("mend", "serac", "edit-base"):
        return "editing" if named != "edit-base" else "edit-base"
    return "mtsac"


def with_options(args: list[str], options: dict[str, list[str]]) -> list[str]:
    """``args`` with each option of ``options`` set to its values (an option given already is replaced)."""
    kept, skipping = [], False
    for token in args:
        if token.startswith("--"):
            skipping = token.split("=")[0] in options
        if not skipping:
            kept.append(token)
    for flag, values in options.items():
        kept += [flag, *values]
    return kept


def tiny(args: list[str]) -> list[str]:
    command = command_of(args)
    if command == "resume" or (command == "train" and learner_of(args) is None):
        return with_options(args, {"--run.budget": [next(RESUME_BUDGETS)]}) if "--config" not in args else args
    if command not in ("train", "sweep"):
        return args
    kind = learner_of(args)
    options = dict(TINY[kind])
    if command == "sweep":
        options["--seeds"] = ["0-1"]
    if kind not in ("msr", "group-shift", "editing", "edit-base"):
        options.update(TINY_EVALUATION)
        if "metaworld" in args:  # Meta-World's protocol runs its own 500-step episodes
            options.pop("--env.eval-max-steps")
        if kind == "rl2":  # its evaluation episodes are as long as its training ones
            options.pop("--env.eval-max-steps")
    return with_options(args, options)


def test_the_readme_lists_the_commands_this_walk_runs():
    commands = [" ".join(c) for c in documented_commands()]
    assert "list" in commands and "train" in commands and commands[0] == "--import my_tasks list"
    for expected in ("resume runs/mt10-pcgrad-s1 --run.budget 200000", "eval runs/touch",
                     "render --task reach --out reach.gif --checkpoint runs/mt1-reach-sac-s1"):
        assert any(expected in c for c in commands), expected


def test_every_documented_train_command_names_a_learner_and_options_that_exist():
    from launch.train_command import parse

    parsed = 0
    for args in documented_commands():
        if command_of(args) != "train" or learner_of(args) is None:
            continue  # a resume or --config command needs the run an earlier command makes: the walk runs it
        algorithm, experiment = parse(args[args.index("train") + 1 :])
        assert algorithm in ("mtsac", "sb3-sac", "sb3-ppo", "msr", "rl2-ppo", "maml-trpo", "pearl", "arm-cml", "arm-ll", "erm",
                             "mend", "serac", "edit-base"), (args, algorithm)
        if "--run.budget" in args:
            assert experiment.run.budget == int(args[args.index("--run.budget") + 1]), args
        parsed += 1
    assert parsed >= 8
    for args in documented_commands():  # sweeps check every grid point's train options before starting Ray
        if command_of(args) == "sweep":
            from launch.sweep import parse_sweep

            parse_sweep(args[args.index("sweep") + 1 :])


def write_tiny_edits(path) -> None:
    """Two edits of held-out facts of the knowledge base that ``TINY["editing"]`` makes."""
    from meta.editing.base_model import knowledge_base
    from meta.editing.config import EditingConfig

    settings = TINY["edit-base"]
    kb = knowledge_base(EditingConfig(**{flag.removeprefix("--algorithm.").replace("-", "_"): int(values[0])
                                         for flag, values in settings.items() if flag.startswith("--algorithm.")}))
    path.write_text("".join(f"{kb.text(case.edit)} | {case.new_object}\n" for case in kb.edit_cases("edit-test", 2, seed=0)))


@pytest.mark.slow
def test_every_documented_command_works_as_it_stands(tmp_path):
    pytest.importorskip("metaworld", reason="the README's Meta-World commands need polytask[metaworld]")
    (tmp_path / "my_tasks.py").write_text(readme_task_module())
    write_tiny_edits(tmp_path / TINY_EDITS)
    printed = {}
    for args in documented_commands():
        command = tiny(args)
        started = time.perf_counter()
        done = launch(*command, cwd=tmp_path)
        print(f"{time.perf_counter() - started:6.1f} s  {' '.join(args)}")
        assert done.returncode == 0, (command, done.stdout[-1500:], done.stderr[-3000:])
        assert "Traceback" not in done.stderr, (command, done.stderr[-3000:])
        printed[" ".join(args)] = done.stdout
    runs = tmp_path / "runs"
    # the default preset ends with the per-task table of MT10, and eval of its run prints the same tasks
    trained = table_rows(printed["train"])
    assert trained[0].split() == ["task", "success_rate", "episode_return"]
    assert [row.split()[0] for row in trained[2:]] == ["reach", "push", "pick-place", "door-open", "drawer-open", "drawer-close",
                                                        "button-press-topdown", "peg-insert-side", "window-open", "window-close", "mean"]
    assert len(json.loads((runs / "again" / "report.json").read_text())["rows"]) == 10
    assert [row.split()[0] for row in table_rows(printed["eval runs/mt10-pcgrad-s1"])] == [row.split()[0] for row in trained]
    # the same agent on Meta-World reports Meta-World's tasks, in a run of its own
    metaworld = printed["train mt10-pcgrad --env.suite metaworld"]
    assert all(task in metaworld for task in ("reach-v3", "push-v3", "window-close-v3")) and "success_rate" in metaworld
    assert (runs / "mt10-pcgrad-metaworld-s1" / "report.json").exists()
    # a run records the modules it was trained with (so eval and render above needed no --import)
    assert yaml.safe_load((runs / "touch" / "config.yaml").read_text())["imports"] == ["my_tasks"]
    assert "mtsac policy" in printed["render --task reach --out reach.gif --checkpoint runs/mt1-reach-sac-s1"]
    assert "touch-puck" in printed["--import my_tasks list"] and (tmp_path / "touch.gif").stat().st_size > 0
    assert {"again", "mt10-pcgrad-s1", "mt1-reach-sac-s1", "touch"} <= {p.name for p in (tmp_path / "runs").iterdir()}


def test_the_quick_start_names_the_command_ci_runs():
    """The README's first block: the training command and the test command that CI runs as it stands."""
    first = re.search(r"```bash\n(.*?)```", README, re.S).group(1).splitlines()
    assert first[0].startswith("./run python -m launch train") and first[1].startswith("./run python -m pytest")
    assert "./run python -m pytest" in (ROOT / ".ci" / "run").read_text()
