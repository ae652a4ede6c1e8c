"""One text module for every comparison: Unicode, apostrophes, Chinese."""

from __future__ import annotations

from medsynth.text import has_cjk, key_answer, mentions, normalize, question_key, similarity


def test_apostrophes_of_every_kind_compare_equal() -> None:
    spellings = ["Crohn's disease", "Crohn’s disease", "Crohn`s Disease", "CROHNS DISEASE"]
    assert len({key_answer(s) for s in spellings}) == 1
    assert len({normalize(s) for s in spellings}) == 1


def test_full_width_and_chinese_punctuation() -> None:
    assert key_answer("ＬＵＮＧ，") == "lung"
    assert key_answer("肺，心脏。") == "肺 心脏"
    assert normalize("肺癌，") == "肺癌"


def test_chinese_mentions_are_substrings() -> None:
    assert mentions("右肺上叶可见肺癌病灶。", "肺癌")
    assert not mentions("右肺上叶可见结节。", "肺癌")
    assert mentions("CT显示 肺 癌", "肺癌")  # spaces inside a CJK phrase do not matter


def test_latin_mentions_stay_whole_word() -> None:
    assert not mentions("nodular opacity", "nodule")
    assert mentions("two nodules", "nodule")


def test_english_question_keys_are_unchanged() -> None:
    # reasoning task keys and duplicate marks of existing workspaces depend on these
    assert question_key("What is the FUNCTION of the organ?") == "function organ what"
    assert question_key("Where is the liver?") == "liver where"


def test_distinct_chinese_questions_are_not_duplicates() -> None:
    pairs = [
        ("这张图片的成像方式是什么？", "图中哪个器官是异常的？"),
        ("肝脏在图像的哪个位置？", "图中有几个肾脏？"),
        ("这是CT还是MRI？", "图中的主要器官是什么？"),
    ]
    for a, b in pairs:
        assert similarity(question_key(a), question_key(b)) < 0.5, (a, b)


def test_the_same_chinese_question_is_a_duplicate() -> None:
    a, b = "图中有几个肾脏？", "图中有几个肾脏?"
    assert similarity(question_key(a), question_key(b)) == 1.0


def test_has_cjk() -> None:
    assert has_cjk("肺") and has_cjk("폐") and not has_cjk("lung é")
