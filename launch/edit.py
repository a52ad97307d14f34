"""``python -m launch edit``: apply edits from a file to the base model and print edit success and drawdown.

    python -m launch edit runs/serac-s1 --edits edits.txt             # a trained editor's run directory
    python -m launch edit rome --edits edits.txt [--base runs/edit-base-s1]
    python -m launch edit ft --edits edits.txt --mode batch

The edits file holds one ``question | new answer`` per line (blank lines and
``#`` comments skipped), each question one of the knowledge base's: that is
what lets the command find its rephrasings (in scope) and the questions that
share its words (hard out of scope).  Edits go in one after another
(``--mode sequential``, the default) or in one call (``--mode batch``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import tyro

from launch.algorithms import config_from_dict, get_algorithm
from launch.checkpoint import load_checkpoint
from launch.errors import UsageError

__all__ = ["EditArgs", "run_edits"]

LEARNED = ("mend", "serac")
BASE_SOURCES = ("edit-base", *LEARNED)


@dataclass(frozen=True)
class EditArgs:
    """Apply edits from a file to a base model and print edit success (ES) and drawdown (DD)."""

    editor: tyro.conf.Positional[str]
    """a mend or serac run directory (or checkpoint file), or a baseline: ft, ft-kl, rome"""
    edits: Path
    """file of 'question | new answer' lines"""
    base: Path | None = None
    """for ft, ft-kl and rome: the run (edit-base, mend or serac) whose base model to edit; default: the cached
    base model of the default knowledge base (trained on first use)"""
    mode: Literal["sequential", "batch"] = "sequential"
    """sequential: one edit after another on the same model; batch: all edits in one call"""
    seed: int = 0
    """seed of the hard out-of-scope questions drawn for each edit"""


def _config_and_state(where: Path, wanted: tuple[str, ...], flag: str):
    path, data = load_checkpoint(where)
    if data["algorithm"] not in wanted:
        raise UsageError(f"{flag} {where}: a checkpoint of {data['algorithm']}; expected one of {', '.join(wanted)}")
    _, config_class = get_algorithm(data["algorithm"]).load()
    config = config_from_dict(config_class, data["algorithm_config"], f"checkpoint {path}")
    return data["algorithm"], config, data["algorithm_state"]


def _editor(args: EditArgs):
    """(knowledge base, base model, editor) the arguments name."""
    from meta.editing.base_model import base_model, knowledge_base, model_from_state
    from meta.editing.baselines import BASELINES, build_baseline
    from meta.editing.config import EditingConfig
    from meta.editing.learner import editor_from_state

    if args.editor in BASELINES:
        if args.base is None:
            config = EditingConfig()
            kb, base = knowledge_base(config), base_model(config)
        else:
            _, config, state = _config_and_state(args.base, BASE_SOURCES, "--base")
            kb, base = knowledge_base(config), model_from_state(state["base"]).requires_grad_(False)
        return kb, base, build_baseline(args.editor, base, kb)
    if args.base is not None:
        raise UsageError("--base applies to the baselines (ft, ft-kl, rome); a trained editor edits the base model it was trained for")
    if not Path(args.editor).exists():
        near = difflib.get_close_matches(args.editor, BASELINES, n=1)
        raise UsageError(f"editor {args.editor!r} is neither a baseline ({', '.join(BASELINES)}) nor a run directory "
                         f"or checkpoint of {' or '.join(LEARNED)}" + (f"; did you mean {near[0]}?" if near else ""))
    _, config, state = _config_and_state(Path(args.editor), LEARNED, "editor")
    return editor_from_state(config, state)


def read_edits(path: Path, kb) -> list[tuple[int, object, str, str]]:
    """(line number, the parsed ``Question``, question text, answer) of every edit in ``path``, all checked before any edit is made; a UsageError
    names the first bad line."""
    if not path.is_file():
        raise UsageError(f"--edits {path}: no such file (expected 'question | new answer' lines)")
    edits = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        question, separator, answer = line.partition("|")
        if not separator or not question.strip() or not answer.strip():
            raise UsageError(f"{path}:{number}: expected 'question | new answer', got {line!r}")
        try:
            parsed = kb.parse(question.strip())
            kb.vocab.token(answer.strip())
        except ValueError as error:
            raise UsageError(f"{path}:{number}: {error}; nothing was edited") from None
        edits.append((number, parsed, question.strip(), answer.strip()))
    if not edits:
        raise UsageError(f"{path} holds no edits: write one 'question | new answer' per line")
    return edits


def run_edits(args: EditArgs) -> str:
    """Edit, score, and return the printed report."""
    import torch

    from meta.editing.base_model import accuracy
    from meta.editing.metrics import OutOfScope, score_edited

    kb, base, editor = _editor(args)
    lines = read_edits(args.edits, kb)
    rng = np.random.default_rng([args.seed, 0xED17])
    cases = [kb.case(parsed, answer, rng) for _, parsed, _, answer in lines]
    where = [f"{args.edits}:{number}" for number, *_ in lines]
    pairs = [(question, answer) for _, _, question, answer in lines]
    if args.mode == "batch":
        edited = editor.edit(base, pairs)
    else:
        edited = base
        for pair in pairs:
            edited = editor.edit(edited, [pair])
    # a fact edited twice is scored on its last edit
    latest = list({(c.edit.entity, c.edit.relation): c for c in cases}.values())
    scores = score_edited(kb, base, edited, latest, OutOfScope(kb, base))
    rows = []
    for case, place in zip(cases, where):
        tokens = torch.from_numpy(kb.tokens([case.edit, *case.rephrasings]))
        target = torch.full((len(tokens),), kb.vocab.index[case.new_object])
        before = kb.vocab.words[int(base(tokens[:1]).argmax(-1))]
        after = kb.vocab.words[int(edited(tokens[:1]).argmax(-1))]
        rows.append(f"  {place}  {kb.text(case.edit)!r}: {before} -> {after} (wanted {case.new_object}; "
                    f"rephrasings {accuracy(edited, tokens[1:], target[1:]):.2f})")
    summary = ", ".join(f"{key} {value:.3f}" for key, value in scores.items())
    return "\n".join([f"{editor.name}, {len(cases)} edits ({args.mode}): {summary}", *rows])
