"""Affirmed, negated and open findings in English and Chinese text (the rule set in
medsynth.synth.negation), on the cases the demo and SLAKE contain."""

from __future__ import annotations

import pytest

from medsynth.synth.negation import polarity

CASES = [
    # the demo captions of issue 13: what the record states must come out affirmed
    (
        "Axial CT showing a dense calculus in the left kidney, consistent with a kidney stone.",
        "kidney stone",
        "affirmed",
    ),
    ("Ultrasound of the liver showing a simple liver cyst.", "liver cyst", "affirmed"),
    (
        "Chest radiograph without focal consolidation or pleural effusion.",
        "pleural effusion",
        "negated",
    ),
    (
        "Chest radiograph without focal consolidation or pleural effusion.",
        "consolidation",
        "negated",
    ),
    ("There is no evidence of pneumothorax, effusion, or consolidation.", "effusion", "negated"),
    ("Pleural effusion is not seen.", "pleural effusion", "negated"),
    ("Pneumonia was ruled out.", "pneumonia", "negated"),
    ("Negative for pulmonary embolism.", "pulmonary embolism", "negated"),
    ("Cardiomegaly is absent.", "cardiomegaly", "negated"),
    ("Findings suspicious for lung cancer.", "lung cancer", "uncertain"),
    ("Pneumonia cannot be excluded.", "pneumonia", "uncertain"),
    ("Possible small pleural effusion.", "pleural effusion", "uncertain"),
    ("Is there a pneumothorax?", "pneumothorax", "uncertain"),
    ("No change in the size of the nodule.", "nodule", "affirmed"),
    ("A mass in the liver but no ascites.", "mass", "affirmed"),
    ("A mass in the liver but no ascites.", "ascites", "negated"),
    ("No effusion; cardiomegaly is present.", "cardiomegaly", "affirmed"),
    ("Crohn’s disease of the terminal ileum.", "Crohn's disease", "affirmed"),
    ("No nodules. Multiple nodules in the right lung.", "nodule", "affirmed"),
    # Chinese
    ("右肺上叶可见结节，未见胸腔积液。", "结节", "affirmed"),
    ("右肺上叶可见结节，未见胸腔积液。", "胸腔积液", "negated"),
    ("肝脏无囊肿", "囊肿", "negated"),
    ("考虑肺炎可能", "肺炎", "uncertain"),
    ("排除气胸", "气胸", "negated"),
    ("心脏增大，但无肺水肿", "肺水肿", "negated"),
    ("心脏增大，但无肺水肿", "心脏增大", "affirmed"),
]


@pytest.mark.parametrize(("text", "name", "expected"), CASES)
def test_polarity_of_a_finding(text: str, name: str, expected: str) -> None:
    assert polarity(text, [name]) == {name: expected}


def test_names_not_in_the_text_are_left_out() -> None:
    assert polarity("A simple liver cyst.", ["kidney stone", "pneumonia", "肺炎"]) == {}


def test_a_name_inside_a_longer_word_is_not_named() -> None:
    assert polarity("Nodular opacities.", ["nodule"]) == {}
