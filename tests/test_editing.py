"""Model editing (``meta.editing``): the knowledge base, the editors' contracts, scoring, the learners and the CLI."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from launch.checkpoint import load_checkpoint
from launch.cli import main
from launch.config import RunConfig
from launch.loop import train
from meta.editing.base_model import BaseModelLearner, accuracy, base_model, knowledge_base
from meta.editing.baselines import build_baseline
from meta.editing.config import BaseModelConfig, EditingConfig, MENDConfig, SERACConfig
from meta.editing.editor import encode_edits
from meta.editing.fact_model import FactModel, FactModelShape
from meta.editing.knowledge import EDIT_TEMPLATES, KnowledgeBase, KnowledgeConfig
from meta.editing.learner import EditorLearner
from meta.editing.mend import MEND
from meta.editing.metrics import OutOfScope, edit_pair, score_sequence, score_single_edits
from meta.editing.serac import SERACModel, join_edit
from test_user_path import launch, ok

TINY = dict(entities=60, relations=3, edit_train_entities=15, edit_test_entities=15, width=32, base_updates=300)
TINY_FLAGS = [flag for key, value in TINY.items() for flag in (f"--algorithm.{key.replace('_', '-')}", str(value))]
LAYERS = MENDConfig.layers


@pytest.fixture(autouse=True, scope="module")
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POLYTASK_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def kb():
    return knowledge_base(EditingConfig(**TINY))


@pytest.fixture(scope="module")
def base(cache):
    return base_model(EditingConfig(**TINY))


def snapshot(model):
    return {name: value.clone() for name, value in model.state_dict().items()}


def assert_unchanged(model, before):
    after = model.state_dict()
    assert all(torch.equal(after[name], value) for name, value in before.items())


def an_edit(kb, seed=0):
    case = kb.edit_cases("edit-test", 1, seed=seed)[0]
    return case, edit_pair(kb, case)


# ---------------------------------------------------------------- data and base model
def test_the_knowledge_base_is_deterministic_and_its_splits_are_disjoint():
    config = KnowledgeConfig(entities=80, relations=4, edit_train_entities=20, edit_test_entities=20)
    first, again, other = KnowledgeBase(config, seed=3), KnowledgeBase(config, seed=3), KnowledgeBase(config, seed=4)
    assert first.entities == again.entities and (first.objects == again.objects).all()
    assert first.entities != other.entities
    splits = [set(first.entity_split[name]) for name in ("edit-train", "edit-test", "base-only")]
    assert sum(map(len, splits)) == 80 and len(set.union(*splits)) == 80
    train_cases, test_cases = first.edit_cases("edit-train", 40, seed=0), first.edit_cases("edit-test", 40, seed=0)
    assert first.edit_cases("edit-test", 40, seed=0) == test_cases
    assert {c.edit.entity for c in train_cases} <= splits[0] and {c.edit.entity for c in test_cases} <= splits[1]
    for case in test_cases:
        assert case.edit.template < EDIT_TEMPLATES, "edits are phrased through edit templates only"
        assert all(q.template >= EDIT_TEMPLATES and (q.entity, q.relation) == (case.edit.entity, case.edit.relation)
                   for q in case.rephrasings)
        assert case.new_object != first.answer(case.edit) and case.new_object in first.relations[case.edit.relation].objects
        assert all((q.entity, q.relation) != (case.edit.entity, case.edit.relation) for q in case.hard_out_of_scope)
        assert {q.entity for q in case.hard_out_of_scope} & {case.edit.entity}, "hard negatives share the entity..."
        assert {q.relation for q in case.hard_out_of_scope} & {case.edit.relation}, "...or the relation"
        assert first.parse(first.text(case.edit)) == case.edit
    with pytest.raises(ValueError, match="cannot draw"):
        first.edit_cases("edit-test", 81, seed=0)


def test_the_base_model_learns_the_knowledge_base_through_the_loop(tmp_path, kb, base):
    tokens, answers = torch.from_numpy(kb.tokens(kb.questions())), torch.from_numpy(kb.answer_tokens(kb.questions()))
    assert accuracy(base, tokens, answers) > 0.95
    assert not any(p.requires_grad for p in base.parameters())
    config = BaseModelConfig(**{**TINY, "base_updates": 20})
    run = RunConfig(budget=20, eval_every=10, runs_dir=tmp_path, name="base", progress_bar=False)
    result = train(BaseModelLearner(config, device="cpu", seed=0), run, algorithm_name="edit-base", algorithm_config=config)
    assert set(result.report.rows) == {*(r.name for r in kb.relations), "all relations"}
    assert "rephrasing_accuracy" in result.report.rows[kb.relations[0].name]
    # its run is a base model the baselines can edit from the command line
    edits = tmp_path / "edits.txt"
    edits.write_text("".join(f"{kb.text(c.edit)} | {c.new_object}\n" for c in kb.edit_cases("edit-test", 2, seed=3)))
    assert main(["edit", "ft", "--edits", str(edits), "--base", str(result.run_dir)]) == 0


# ---------------------------------------------------------------- the editors' contracts
def test_mend_initialised_to_the_identity_takes_the_plain_gradient_step_on_the_chosen_layers_only(kb, base):
    mend = MEND(base, kb.vocab, kb.max_length, LAYERS, rank=8, edit_lr=0.05)
    edits = [edit_pair(kb, case) for case in kb.edit_cases("edit-test", 3, seed=1)]
    before = snapshot(base)
    edited = mend.edit(base, edits)
    assert_unchanged(base, before)
    reference = FactModel(base.shape)
    reference.load_state_dict(base.state_dict())
    request = encode_edits(kb.vocab, kb.max_length, edits)
    F.cross_entropy(reference(request.tokens), request.answers, reduction="sum").backward()
    params, reference_params = dict(edited.named_parameters()), dict(reference.named_parameters())
    for name, value in reference_params.items():
        if name in LAYERS:
            torch.testing.assert_close(params[name], value.detach() - 0.05 * value.grad, rtol=0, atol=1e-6)
            assert not torch.equal(params[name], before[name])
        else:
            assert torch.equal(params[name], before[name]), f"{name} is not an edited layer"


def test_serac_leaves_the_base_model_bit_identical_and_routes_by_scope(kb, base, trained_serac):
    case, edit = an_edit(kb, seed=2)
    before = snapshot(base)
    edited = trained_serac.edit(base, [edit])
    assert isinstance(edited, SERACModel) and edited.base is base
    assert_unchanged(base, before)
    unrelated = torch.from_numpy(kb.tokens(kb.questions(kb.entity_split["base-only"][:5])))
    in_scope, _ = edited.route(unrelated)
    assert (~in_scope).sum() > len(unrelated) / 2
    assert torch.equal(edited(unrelated)[~in_scope], base(unrelated)[~in_scope]), "out of scope: the base model's answer"
    # a classifier that calls nothing in scope leaves every answer to the base model, bit for bit
    doubtful = copy.deepcopy(trained_serac)
    doubtful.classifier.bias.data.fill_(-1e4)
    everything = torch.from_numpy(kb.tokens(kb.questions()))
    assert torch.equal(doubtful.edit(base, [edit])(everything), base(everything))
    question = torch.from_numpy(kb.tokens([case.edit]))
    assert edited.route(question)[0].all()
    assert kb.vocab.words[int(edited(question).argmax())] == case.new_object
    # a second edit extends the memory; the first wrapper is unchanged
    again = trained_serac.edit(edited, [edit_pair(kb, an_edit(kb, seed=3)[0])])
    assert len(again.memory) == 2 and len(edited.memory) == 1


def test_join_edit_lays_out_edit_answer_separator_and_input(kb):
    edit = torch.tensor([[5, 6, 7, 0]])
    question = torch.tensor([[8, 9, 0, 0]])
    joined = join_edit(edit, torch.tensor([3]), question, pad=0, sep=1)
    assert joined.tolist() == [[5, 6, 7, 3, 1, 8, 9, 0, 0, 0]]


def test_a_rome_edit_changes_the_edited_facts_answer(kb, base):
    rome = build_baseline("rome", base, kb)
    case, edit = an_edit(kb, seed=4)
    before = snapshot(base)
    edited = rome.edit(base, [edit])
    assert_unchanged(base, before)
    question = torch.from_numpy(kb.tokens([case.edit]))
    assert kb.vocab.words[int(base(question).argmax())] == kb.answer(case.edit)
    assert kb.vocab.words[int(edited(question).argmax())] == case.new_object
    changed = [name for name, value in edited.state_dict().items() if not torch.equal(value, before[name])]
    assert changed == ["blocks.0.mlp.fc_out.weight"]


@pytest.mark.parametrize("name", ["ft", "ft-kl", "rome", "mend", "serac"])
def test_bad_edits_are_refused_and_leave_the_model_unchanged(name, kb, base, trained_serac):
    editor = {"mend": lambda: MEND(base, kb.vocab, kb.max_length, LAYERS), "serac": lambda: trained_serac}.get(
        name, lambda: build_baseline(name, base, kb))()
    before = snapshot(base)
    question = kb.text(kb.edit_cases("edit-test", 1, seed=0)[0].edit)
    for edits, expected in (([(question, "atlantis")], "'atlantis' is not in the model's vocabulary"),
                            ([], "no edits given"),
                            ([("where does nobody live ?", "paris")], "'nobody' is not in the model's vocabulary"),
                            ((question, "paris"), "got one pair")):
        with pytest.raises(ValueError, match=expected):
            editor.edit(base, edits)
    other = FactModel(FactModelShape(len(kb.vocab), kb.max_length, width=16, depth=1, heads=2))
    with pytest.raises(ValueError, match="lacks|shape|SERAC was trained" if name != "serac" else "SERAC was trained"):
        editor.edit(other if name != "serac" else torch.nn.Linear(2, 2), [(question, "paris")])
    assert_unchanged(base, before)


# ---------------------------------------------------------------- scoring
def test_sequential_scores_cover_every_edit_so_far_and_a_null_editor_has_no_success_and_no_drawdown(kb, base):
    class KeepModel:
        name = "none"

        def edit(self, model, edits):
            return model

    cases = kb.edit_cases("edit-test", 6, seed=5)
    out_of_scope = OutOfScope(kb, base, count=100)
    scores = score_sequence(KeepModel(), base, kb, cases, out_of_scope, [2, 6])
    assert set(scores) == {2, 6}
    for result in scores.values():
        assert result["edit_success"] < 0.1 and result["drawdown"] == 0 and result["hard_drawdown"] == 0
    single = score_single_edits(build_baseline("ft", base, kb), base, kb, cases, out_of_scope)
    assert single["edit_accuracy"] == 1.0, "fine-tuning runs until the edited question is answered"
    with pytest.raises(ValueError, match="points must lie in 1..6"):
        score_sequence(KeepModel(), base, kb, cases, out_of_scope, [7])


# ---------------------------------------------------------------- learners, through the loop and the CLI
@pytest.fixture(scope="module")
def trained_serac(cache):
    learner = EditorLearner(SERACConfig(**TINY, eval_edits=5, edit_batch=8), device="cpu", seed=0)
    while learner.progress() < 150:
        learner.step()
    return learner.editor.eval()


@pytest.mark.parametrize("config_class", [MENDConfig, SERACConfig])
def test_editor_learners_resume_exactly_and_refuse_another_learners_checkpoint(tmp_path, config_class):
    config = config_class(**TINY, eval_edits=4, edit_batch=4)
    name = config_class.__name__.removesuffix("Config").lower()
    run = RunConfig(budget=6, eval_every=3, runs_dir=tmp_path, name=name, progress_bar=False, seed=2)
    result = train(EditorLearner(config, device="cpu", seed=2), run, algorithm_name=name, algorithm_config=config)
    assert set(result.report.rows["single edits"]) >= {"edit_success", "drawdown", "hard_accuracy"}
    resumed = EditorLearner(config, device="cpu", seed=2)
    resumed.load_state_dict(load_checkpoint(sorted(result.run_dir.glob("checkpoint_*3.pt"))[0])[1]["algorithm_state"])
    while resumed.progress() < 6:
        resumed.step()
    final = load_checkpoint(result.run_dir)[1]["algorithm_state"]
    assert all(torch.equal(value, final["editor"][key]) for key, value in resumed.editor.state_dict().items())
    other = MENDConfig if config_class is SERACConfig else SERACConfig
    with pytest.raises(ValueError, match="checkpoint is for EditorLearner"):
        EditorLearner(other(**TINY, eval_edits=4), device="cpu", seed=2).load_state_dict(final)


def test_cli_trains_an_editor_and_applies_edits_from_a_file(tmp_path, capsys, kb):
    done = ok(launch("train", "serac", *TINY_FLAGS, "--algorithm.eval-edits", "4", "--run.budget", "4",
                     "--run.runs-dir", tmp_path, "--run.no-progress-bar"))
    assert "single edits" in done.stdout and "edit_success" in done.stdout
    cases = kb.edit_cases("edit-test", 2, seed=7)
    edits = tmp_path / "edits.txt"
    edits.write_text("# two edits\n" + "".join(f"{kb.text(c.edit)} | {c.new_object}\n" for c in cases))
    assert main(["edit", str(tmp_path / "serac-s1"), "--edits", str(edits)]) == 0
    printed = capsys.readouterr().out
    assert "SERAC, 2 edits (sequential): edit_success" in printed and kb.text(cases[1].edit) in printed
    assert main(["edit", "rome", "--edits", str(edits), "--base", str(tmp_path / "serac-s1"), "--mode", "batch"]) == 0
    assert "ROME, 2 edits (batch)" in capsys.readouterr().out
    bad = tmp_path / "bad.txt"
    for text, argv, expected in (
            (f"{kb.text(cases[0].edit)} | atlantis\n", ["serac-s1"], "bad.txt:1: 'atlantis' is not in the model's vocabulary (131 words); near: tunis; nothing was edited"),
            ("where is the moon ? | paris\n", ["serac-s1"], "bad.txt:1: 'where is the moon ?' is not a question"),
            ("no separator\n", ["serac-s1"], "bad.txt:1: expected 'question | new answer'"),
            ("", ["serac-s1"], "holds no edits"),
            (f"{kb.text(cases[0].edit)} | paris\n", ["rom"], "did you mean rome?"),
            (f"{kb.text(cases[0].edit)} | paris\n", ["serac-s1", "--base", "x"], "--base applies to the baselines")):
        bad.write_text(text)
        editor = str(tmp_path / argv[0]) if argv[0] == "serac-s1" else argv[0]
        assert main(["edit", editor, "--edits", str(bad), *argv[1:]]) == 2
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
