"""What the gate works on: a draft as it sees it (:class:`Candidate`) and the record's evidence
(:class:`Facts`), and the names of its detectors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from medsynth.synth.negation import Polarity
from medsynth.text import normalize

DETECTORS = (
    "repetition",
    "prompt_copy",
    "notation",
    "truncation",
    "stages",
    "path_unused",
    "key_answer_absent",
    "unsupported",
    "label",
)


@dataclass(frozen=True)
class Facts:
    """What a record and the KG say: the evidence drafts are checked against."""

    context: str = ""
    polarity: dict[str, Polarity] = field(default_factory=dict)  # disease name -> how named
    kg_diseases: tuple[str, ...] = ()  # every KG disease name and alias (to spot in prose)
    kg_organs: tuple[str, ...] = ()  # every KG organ name and alias

    def how(self, name: str) -> Polarity | None:
        """How the record names ``name`` (None: it does not)."""
        key = normalize(name)
        for known, value in self.polarity.items():
            if normalize(known) == key:
                return value
        return None


@dataclass
class Candidate:
    """One draft as the gate sees it."""

    generator: str  # multihop | hardneg | keyanswer | describe | instruct | reasoning
    question: str = ""
    answer: str = ""  # the prose to inspect (reasoning: leave empty, use ``stages``)
    key_answer: str = ""
    parent_answer: str = ""  # keyanswer: the answer it condenses
    label: str = ""  # the sample's label (hardneg "no", reasoning <ANS>, keyanswer key answer)
    subject: str = ""  # hardneg: the disease the label is about
    stages: dict[str, str] = field(default_factory=dict)  # reasoning: stage -> text
    path_text: str = ""  # the KG path or facts the model was given
    path_entities: list[str] = field(default_factory=list)
    template_text: Sequence[str] = ()  # the prompt's fixed wording, chunk by chunk
    trusted: str = ""  # other text that counts as evidence (a dataset question)

    def prose(self) -> str:
        """All generated text of the draft."""
        if self.stages:
            return " ".join(s.strip() for s in self.stages.values())
        return self.answer
