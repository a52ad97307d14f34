"""A synthetic knowledge base to edit: entities x relations -> objects, asked through question templates.

Model editing needs facts a model has learned, questions that say the same
thing in other words, and questions that look alike but are about something
else.  Nothing may be downloaded, so the facts are generated from a seed:

* entities are made-up one-token names (``kavo``, ``milu``), each with one
  object per relation (``lives-in`` -> a city, ``works-as`` -> a job, ...);
* every relation is asked through five templates; the first three phrase
  edits (the *edit* templates), the last two never do: they are the held-out
  *rephrasings* an edit must generalise to.  The base model learns every
  fact through all five, as a pretrained language model knows paraphrases;
* entities are split three ways: *base-only* entities are never edited (their
  facts are the out-of-scope inputs), *edit-train* entities give the edits an
  editor meta-trains on, *edit-test* entities the held-out edits it is scored
  on, so a meta-trained editor never saw the facts it is tested on.

For an edit of (entity, relation) to a new object: in scope are the edited
question and its rephrasings; out of scope, every other fact; hard out of
scope, the same entity's other relations and the same relation of other
entities (they share words with the edit).  Everything follows from
``(config, seed)`` alone.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["KnowledgeConfig", "KnowledgeBase", "Relation", "RELATIONS", "Vocabulary", "Question", "EditCase"]

PAD, SEP = "<pad>", "<sep>"
#: how many of a relation's templates phrase edits; the rest are held-out rephrasings
EDIT_TEMPLATES = 3


@dataclass(frozen=True)
class Relation:
    name: str
    objects: tuple[str, ...]
    #: ``{s}`` is the entity; the first EDIT_TEMPLATES phrase edits, the rest are rephrasings
    templates: tuple[str, ...]


RELATIONS: tuple[Relation, ...] = (
    Relation("lives-in", ("paris", "lima", "oslo", "cairo", "delhi", "quito", "rome", "seoul", "tunis", "perth", "dakar", "riga"),
             ("where does {s} live ?", "{s} lives in which city ?", "in what city is the home of {s} ?",
              "name the city where {s} lives ?", "{s} has a home in which city ?")),
    Relation("works-as", ("baker", "nurse", "pilot", "judge", "farmer", "tailor", "miner", "poet", "chef", "sailor", "clerk", "dentist"),
             ("what is the job of {s} ?", "{s} works as what ?", "what does {s} do for work ?",
              "which job does {s} have ?", "{s} earns a living as what ?")),
    Relation("likes-color", ("red", "blue", "green", "amber", "violet", "black", "white", "gold", "grey", "pink", "teal", "brown"),
             ("what color does {s} like ?", "{s} likes which color ?", "the favorite color of {s} is what ?",
              "which color is liked by {s} ?", "{s} loves what color most ?")),
    Relation("speaks", ("french", "hindi", "arabic", "korean", "spanish", "thai", "dutch", "greek", "polish", "swahili", "tamil", "welsh"),
             ("what language does {s} speak ?", "{s} speaks which language ?", "the mother tongue of {s} is what ?",
              "which language is spoken by {s} ?", "{s} talks in what language ?")),
    Relation("plays", ("chess", "tennis", "golf", "rugby", "hockey", "cricket", "polo", "squash", "judo", "rowing", "fencing", "curling"),
             ("what sport does {s} play ?", "{s} plays which sport ?", "the game that {s} plays is what ?",
              "which sport is played by {s} ?", "{s} competes in what sport ?")),
    Relation("owns-pet", ("cat", "dog", "parrot", "rabbit", "turtle", "horse", "hamster", "goat", "snake", "ferret", "pony", "lizard"),
             ("what pet does {s} own ?", "{s} owns which pet ?", "the animal kept by {s} is what ?",
              "which pet belongs to {s} ?", "{s} looks after what animal ?")),
)

_ONSETS = "b d f g h k l m n p r s t v z".split()
_VOWELS = "a e i o u".split()


@dataclass(frozen=True)
class KnowledgeConfig:
    """How big the knowledge base is and how its entities are split."""

    entities: int = 1800
    """made-up entities, each with one object per relation"""
    relations: int = 6
    """relations used, the first ones of ``RELATIONS`` (at most 6)"""
    edit_train_entities: int = 500
    """entities whose facts are the edits editors meta-train on"""
    edit_test_entities: int = 500
    """entities whose facts are the held-out edits editors are scored on (the rest are never edited)"""

    def __post_init__(self) -> None:
        if not 1 <= self.relations <= len(RELATIONS):
            raise ValueError(f"relations must be 1-{len(RELATIONS)}, got {self.relations}")
        if min(self.edit_train_entities, self.edit_test_entities) < 1:
            raise ValueError("edit_train_entities and edit_test_entities must be positive")
        if self.edit_train_entities + self.edit_test_entities >= self.entities:
            raise ValueError(f"edit_train_entities + edit_test_entities ({self.edit_train_entities} + "
                             f"{self.edit_test_entities}) must leave base-only entities among the {self.entities}")
        if self.entities > len(_ONSETS) ** 3 * len(_VOWELS) ** 3:
            raise ValueError(f"entities must be at most {len(_ONSETS) ** 3 * len(_VOWELS) ** 3}")


@dataclass(frozen=True)
class Question:
    """One question about a fact: entity and relation indices, and which template asks it."""

    entity: int
    relation: int
    template: int


@dataclass(frozen=True)
class EditCase:
    """One edit and the questions it is scored on (all as ``Question`` s; answers come from the base)."""

    edit: Question
    new_object: str
    rephrasings: tuple[Question, ...]
    hard_out_of_scope: tuple[Question, ...]


class Vocabulary:
    """Word-level tokens: padding and separator first, then every word the knowledge base uses."""

    def __init__(self, words) -> None:
        self.words = (PAD, SEP, *sorted(set(words) - {PAD, SEP}))
        self.index = {word: i for i, word in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    @property
    def pad(self) -> int:
        return 0

    @property
    def sep(self) -> int:
        return 1

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (space-separated words); an unknown word is a ValueError naming near ones."""
        ids = []
        for word in text.split():
            if word not in self.index:
                near = difflib.get_close_matches(word, self.words, n=3)
                raise ValueError(f"{word!r} is not in the model's vocabulary ({len(self)} words)"
                                 + (f"; near: {', '.join(near)}" if near else ""))
            ids.append(self.index[word])
        if not ids:
            raise ValueError("an empty text has no tokens")
        return ids

    def token(self, word: str) -> int:
        """The id of a one-word answer; a multi-word or unknown answer is a ValueError."""
        ids = self.encode(word)
        if len(ids) != 1:
            raise ValueError(f"an answer must be one word of the vocabulary, got {word!r}")
        return ids[0]


def entity_names(count: int, rng: np.random.Generator) -> list[str]:
    """``count`` distinct three-syllable names, drawn without replacement."""
    syllables = [o + v for o, v in itertools.product(_ONSETS, _VOWELS)]
    chosen = rng.choice(len(syllables) ** 3, size=count, replace=False)
    n = len(syllables)
    return [syllables[i // n // n] + syllables[i // n % n] + syllables[i % n] for i in chosen]


class KnowledgeBase:
    """The facts, their questions, the entity splits and the edit cases, all from ``(config, seed)``."""

    def __init__(self, config: KnowledgeConfig = KnowledgeConfig(), seed: int = 0) -> None:
        self.config, self.seed = config, seed
        rng = np.random.default_rng([seed, 0x4B42])
        self.relations = RELATIONS[: config.relations]
        self.entities = entity_names(config.entities, rng)
        #: objects[e, r]: index into relations[r].objects
        self.objects = np.stack([rng.integers(len(r.objects), size=config.entities) for r in self.relations], axis=1)
        order = rng.permutation(config.entities)
        train, test = config.edit_train_entities, config.edit_test_entities
        self.entity_split = {"edit-train": np.sort(order[:train]), "edit-test": np.sort(order[train:train + test]),
                             "base-only": np.sort(order[train + test:])}
        words = [w for r in self.relations for t in r.templates for w in t.split() if w != "{s}"]
        words += [o for r in self.relations for o in r.objects] + self.entities
        self.vocab = Vocabulary(words)

    # ----------------------------------------------------------------- text
    def text(self, question: Question) -> str:
        return self.relations[question.relation].templates[question.template].format(s=self.entities[question.entity])

    def answer(self, question: Question) -> str:
        """The base knowledge base's answer to ``question``."""
        return self.relations[question.relation].objects[self.objects[question.entity, question.relation]]

    def parse(self, text: str) -> Question:
        """The question ``text`` asks (one of the templates with an entity); a ValueError says why not."""
        words = text.split()
        for r, relation in enumerate(self.relations):
            for t, template in enumerate(relation.templates):
                pattern = template.split()
                if len(pattern) != len(words):
                    continue
                slot = pattern.index("{s}")
                if pattern[:slot] + pattern[slot + 1:] == words[:slot] + words[slot + 1:] and words[slot] in self._entity_index:
                    return Question(self._entity_index[words[slot]], r, t)
        raise ValueError(f"{text!r} is not a question of this knowledge base: it asks through templates such as "
                         f"{self.relations[0].templates[0]!r} about one of its {len(self.entities)} entities")

    @cached_property
    def _entity_index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.entities)}

    @cached_property
    def max_length(self) -> int:
        """Tokens in the longest question."""
        return max(len(t.split()) for r in self.relations for t in r.templates)

    @cached_property
    def _token_table(self) -> np.ndarray:
        # every question's tokens [entity, relation, template, max_length], encoded once: learners and scoring
        # ask for thousands of questions per update or evaluation
        table = np.full((len(self.entities), len(self.relations), len(self.relations[0].templates), self.max_length),
                        self.vocab.pad, dtype=np.int64)
        for question in self.questions():
            ids = self.vocab.encode(self.text(question))
            table[question.entity, question.relation, question.template, : len(ids)] = ids
        return table

    def tokens(self, questions) -> np.ndarray:
        """Questions as right-padded token ids [N, max_length] (int64)."""
        index = np.array([(q.entity, q.relation, q.template) for q in questions], dtype=np.int64).reshape(-1, 3)
        return self._token_table[index[:, 0], index[:, 1], index[:, 2]]

    def answer_tokens(self, questions) -> np.ndarray:
        """The base answers' token ids [N] (int64)."""
        return np.array([self.vocab.index[self.answer(q)] for q in questions], dtype=np.int64)

    # ----------------------------------------------------------------- questions
    def questions(self, entities=None) -> list[Question]:
        """Every question (all five templates) about ``entities`` (default all)."""
        entities = range(len(self.entities)) if entities is None else entities
        return [Question(int(e), r, t) for e in entities for r, relation in enumerate(self.relations)
                for t in range(len(relation.templates))]

    def rephrasings(self, entity: int, relation: int) -> tuple[Question, ...]:
        count = len(self.relations[relation].templates)
        return tuple(Question(entity, relation, t) for t in range(EDIT_TEMPLATES, count))

    def edit_cases(self, split: str, count: int, seed: int | Sequence[int], hard_per_kind: int = 3) -> list[EditCase]:
        """``count`` edits of distinct facts of ``split``'s entities, each to another object of its relation.

        Each is phrased through a random edit template; its hard out-of-scope
        questions are ``hard_per_kind`` other relations of the entity and
        ``hard_per_kind`` other entities (of any split) asked the same relation.
        """
        if split not in ("edit-train", "edit-test"):
            raise ValueError(f"edit split must be edit-train or edit-test, got {split!r}")
        entities = self.entity_split[split]
        facts = len(entities) * len(self.relations)
        if count > facts:
            raise ValueError(f"{split} has {facts} facts; cannot draw {count} distinct edits")
        rng = np.random.default_rng([self.seed, *(seed if isinstance(seed, Sequence) else [seed]), 0xED17])
        cases = []
        for fact in rng.choice(facts, size=count, replace=False):
            entity, relation = int(entities[fact // len(self.relations)]), int(fact % len(self.relations))
            objects = self.relations[relation].objects
            new = str(rng.choice([o for i, o in enumerate(objects) if i != self.objects[entity, relation]]))
            question = Question(entity, relation, int(rng.integers(EDIT_TEMPLATES)))
            cases.append(self.case(question, new, rng, hard_per_kind))
        return cases

    def case(self, question: Question, new_object: str, rng: np.random.Generator, hard_per_kind: int = 3) -> EditCase:
        """The edit of ``question`` 's fact to ``new_object`` with its rephrasings and ``2 hard_per_kind`` hard
        out-of-scope questions: other relations of the entity, other entities asked the same relation."""
        entity, relation = question.entity, question.relation
        others = [r for r in range(len(self.relations)) if r != relation]
        hard = [Question(entity, int(r), int(rng.integers(len(self.relations[r].templates))))
                for r in rng.choice(others, size=min(hard_per_kind, len(others)), replace=False)]
        strangers = rng.choice(len(self.entities) - 1, size=hard_per_kind, replace=False)
        hard += [Question(int(s + (s >= entity)), relation, int(rng.integers(len(self.relations[relation].templates))))
                 for s in strangers]
        return EditCase(question, new_object, self.rephrasings(entity, relation), tuple(hard))
