"""Parser for SLAKE's knowledge-graph folder (``KG/`` in the SLAKE release).

English files are ``#``-separated with a header row (``en_disease.csv``, ``en_organ.csv``,
``en_organ_rel.csv``); Chinese files are comma-separated (``disease.csv``, ``organ.csv``,
``organ_rel.csv``); ``disease-en-zh.json`` and ``organ-en-zh.json`` map English names to Chinese
ones and become aliases, as do the values of SLAKE's own ``alias`` relation.
"""

from __future__ import annotations

import json
from pathlib import Path

from medsynth.errors import InputError
from medsynth.kg.model import BadRow, EntityType, ParsedKG, RawAlias, RawTriple
from medsynth.kg.readers import read_lines, split_fields

# file name -> (delimiter, language, head type)
SLAKE_FILES: dict[str, tuple[str, str, EntityType]] = {
    "en_organ_rel.csv": ("#", "en", "organ"),
    "en_organ.csv": ("#", "en", "organ"),
    "en_disease.csv": ("#", "en", "disease"),
    "organ_rel.csv": (",", "zh", "organ"),
    "organ.csv": (",", "zh", "organ"),
    "disease.csv": (",", "zh", "disease"),
}
NAME_MAPS: dict[str, EntityType] = {"organ-en-zh.json": "organ", "disease-en-zh.json": "disease"}

# SLAKE's Chinese relation names -> the English relation names used in the English files.
ZH_RELATIONS = {
    "发病部位": "location",
    "属于": "belong to",
    "别称": "alias",
    "主要症状": "symptom",
    "治疗方法": "treatment",
    "描述": "description",
    "传染性": "infectivity",
    "病因": "cause",
    "预防": "prevention",
    "多发群体": "susceptible population",
    "多发人群": "susceptible population",
    "易发人群": "susceptible population",
    "功能": "function",
    "位置": "position",
    "定义": "definition",
    "组成": "component",
    "作用": "effect",
    "形状": "shape",
    "性质": "nature",
    "特点": "characteristic",
    "长度": "length",
    "分类": "classification",
    "质地": "texture",
    "组成部分": "component",
    "其他名称": "alias",
    "拼音": "pinyin",
    "重量": "weight",
    "直径": "diameter",
    "分为": "divided into",
    "大小": "size",
    "颜色": "color",
    "传播途径": "route of transmission",
    "地位": "status",
    "主要成分": "main ingredient",
    "分泌物": "secretion",
    "组织构造": "tissue structure",
    "管壁组成": "wall composition",
    "细胞组成": "cell composition",
    "长约": "length",
    "长": "length",
    "形态": "shape",
    "外形": "shape",
    "上接": "uplink",
    "下连": "downlink",
    "动脉": "artery",
    "静脉": "vein",
    "神经": "nerve",
    "淋巴": "lymph",
    "结构": "structure",
    "特性": "characteristic",
    "类型": "type",
    "种类": "type",
    "数量": "number",
}


def parse_slake_file(
    path: Path, display: str, delimiter: str, language: str, head_type: EntityType
) -> tuple[list[RawTriple], list[BadRow]]:
    """Parse one SLAKE KG file (header row first) into raw triples and bad rows."""
    triples: list[RawTriple] = []
    bad: list[BadRow] = []
    header_seen = False
    for item in read_lines(path, display):
        if isinstance(item, BadRow):
            bad.append(item)
            continue
        number, line = item
        if not header_seen:
            header_seen = True
            continue
        source = f"{display}:{number}"
        fields = split_fields(line, delimiter)
        if len(fields) != 3:
            bad.append(
                BadRow(
                    source, line, f"expected 3 '{delimiter}'-separated fields, found {len(fields)}"
                )
            )
            continue
        head, relation, tail = fields
        if not head:
            bad.append(BadRow(source, line, "empty head"))
            continue
        if not relation:
            bad.append(BadRow(source, line, "empty relation"))
            continue
        if not tail:
            bad.append(BadRow(source, line, "empty tail"))
            continue
        if language == "zh":
            relation = ZH_RELATIONS.get(relation, relation)
        triples.append(RawTriple(head, relation, tail, source, language, head_type, None))
    return triples, bad


def parse_name_map(
    path: Path, display: str, name_type: EntityType
) -> tuple[list[RawAlias], list[BadRow]]:
    """Parse an ``{english: chinese}`` JSON map into zh aliases of the English entities."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [], [BadRow(display, "", f"not a UTF-8 JSON object: {exc}")]
    if not isinstance(data, dict):
        return [], [BadRow(display, str(data)[:200], "expected a JSON object {english: chinese}")]
    aliases: list[RawAlias] = []
    bad: list[BadRow] = []
    for english, chinese in data.items():
        if not isinstance(chinese, str) or not chinese.strip() or not str(english).strip():
            bad.append(
                BadRow(
                    f"{display}:{english}",
                    json.dumps({english: chinese}, ensure_ascii=False),
                    "empty or non-text name",
                )
            )
            continue
        aliases.append(
            RawAlias(english.strip(), chinese.strip(), f"{display}:{english}", "zh", name_type)
        )
    return aliases, bad


def looks_like_slake(path: Path) -> bool:
    """Whether ``path`` is (or holds) a file named as in SLAKE's KG release."""
    names = {path.name} if path.is_file() else {p.name for p in path.glob("*")}
    return bool(names & (set(SLAKE_FILES) | set(NAME_MAPS)))


def parse_slake(path: Path) -> ParsedKG:
    """Parse a SLAKE KG folder, or one SLAKE KG file named as in the release."""
    files = [path] if path.is_file() else sorted(path.iterdir()) if path.is_dir() else []
    if not path.exists():
        raise InputError(
            "no such file or folder",
            source=str(path),
            hint="point at SLAKE's KG folder (with en_disease.csv)",
        )
    known = [f for f in files if f.name in SLAKE_FILES or f.name in NAME_MAPS]
    if not known:
        raise InputError(
            "no SLAKE KG files here (expected en_disease.csv, en_organ.csv, en_organ_rel.csv, ...)",
            source=str(path),
            hint="use --format triples for generic head/relation/tail files",
        )
    parsed = ParsedKG(triples=[], aliases=[], bad_rows=[], files=[])
    order = list(SLAKE_FILES) + list(NAME_MAPS)
    for file in sorted(known, key=lambda f: order.index(f.name)):
        display = file.name
        parsed.files.append(display)
        if file.name in NAME_MAPS:
            aliases, bad = parse_name_map(file, display, NAME_MAPS[file.name])
            parsed.aliases.extend(aliases)
        else:
            delimiter, language, head_type = SLAKE_FILES[file.name]
            triples, bad = parse_slake_file(file, display, delimiter, language, head_type)
            parsed.triples.extend(triples)
        parsed.bad_rows.extend(bad)
    return parsed
