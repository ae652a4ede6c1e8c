"""What MEDSAGE's knowledge step is told to interpret, by the kind of finding a question is
about, and the guards that keep the label out of the steps that must not know it.

The guides are ours (clinical reading habits, not the paper's templates): a mass or lesion is
read for its margins, composition and spread; fluid for its site, amount and density; an organ
for its size and contour against normal; normal anatomy for what identifies each structure.
"""

from __future__ import annotations

import re

from medsynth.kg.normalize import normalize

GUIDES = {
    "mass_lesion": (
        "For a mass or lesion, weigh what its margins (smooth or spiculated), its make-up "
        "(solid, cystic, fatty, calcified), its size and any spread to nearby structures suggest, "
        "and which features separate benign from malignant causes."
    ),
    "fluid": (
        "For fluid or an effusion, weigh where it collects, how much there is and how dense it "
        "looks, and what that says about its likely cause (blood, pus, transudate)."
    ),
    "organ_size": (
        "For the size or shape of an organ, compare it with the normal range for the patient, "
        "say whether the change is diffuse or focal, and which conditions enlarge or shrink it."
    ),
    "normal_anatomy": (
        "For questions about anatomy, name the features (position, shape, density, relations to "
        "neighbouring structures) that identify each structure and tell it from what lies near."
    ),
    "general": (
        "Relate each observation to the conditions that could produce it and to what in the "
        "image would confirm or exclude each of them."
    ),
}
_CUES = {
    "mass_lesion": "mass lesion tumor tumour nodule cancer carcinoma cyst neoplasm metastasis "
    "malignant benign opacity",
    "fluid": "fluid effusion edema oedema ascites hemorrhage haemorrhage bleeding collection "
    "pneumothorax hydronephrosis",
    "organ_size": "enlarged enlargement size large small atrophy megaly cardiomegaly "
    "hepatomegaly splenomegaly dilated dilation",
    "normal_anatomy": "organ which where located part belong position normal healthy modality "
    "plane",
}


def finding_type(question: str, answer: str, entities: list[str] | None = None) -> str:
    """The kind of finding a question is about (a key of :data:`GUIDES`).

    >>> finding_type("Is there a lung nodule?", "Yes")
    'mass_lesion'
    >>> finding_type("What is the fluid around the lung?", "Pleural effusion")
    'fluid'
    >>> finding_type("Which organ is largest?", "Liver"), finding_type("Why?", "x")
    ('normal_anatomy', 'general')
    """
    words = set(normalize(" ".join([question, answer, *(entities or [])])).split())
    text = " ".join(sorted(words))
    for kind in ("mass_lesion", "fluid", "organ_size", "normal_anatomy"):
        cues = _CUES[kind].split()
        if words & set(cues) or any(c in text for c in cues if c.endswith("megaly")):
            return kind
    return "general"


def _answer_words(answer: str) -> str:
    """The answer when it can be spotted in text (not yes/no, three letters or more)."""
    key = normalize(answer)
    return "" if key in ("yes", "no") or len(key) < 3 else key


def hide_label(text: str, answer: str) -> str:
    """``text`` with the answer blanked out (for the steps that must not see it).

    >>> hide_label("A liver cyst in the Liver.", "liver")
    'A [...] cyst in the [...].'
    >>> hide_label("No effusion.", "no")
    'No effusion.'
    """
    key = _answer_words(answer)
    if not key:
        return text
    words = [re.escape(w) for w in key.split()]
    pattern = re.compile(r"\b" + r"\W+".join(words) + r"s?\b", re.IGNORECASE)
    return pattern.sub("[...]", text)


def states_label(text: str, answer: str) -> bool:
    """Whether ``text`` names the answer (whole words, after normalisation).

    >>> states_label("This is most likely a pleural effusion.", "Pleural effusion")
    True
    >>> states_label("Fluid in the pleural space.", "Pleural effusion"), states_label("x", "no")
    (False, False)
    """
    key = _answer_words(answer)
    return bool(key) and f" {key} " in f" {normalize(text)} "
