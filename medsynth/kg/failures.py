"""File-level failures in a multi-file KG import: which file failed, why, and what it costs.

A bad row costs one statement; a bad *file* costs a slice of the graph. A SLAKE name map that is
not JSON drops every English-Chinese pair at once, and the Chinese files then create an entity of
their own for each name the map would have merged. So a file counts as failed when it could not be
read at all (a file-level reject, whose source is the bare file name), when it gave nothing usable,
or, in a multi-file import, when at least half of its rows were rejected (a wrong delimiter or
encoding looks like that; a single file's bad rows are its own rejects, counted in the report).
The import stops, writing nothing, unless the user says ``--keep-going``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from medsynth.kg.model import ParsedKG
from medsynth.kg.slake import NAME_MAPS

MOSTLY_BAD = 0.5  # a file with this share of rejected rows (or more) failed as a whole


@dataclass(frozen=True, slots=True)
class FileFailure:
    """One input file that failed as a whole."""

    file: str
    reason: str
    cost: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"file": self.file, "reason": self.reason, "cost": self.cost}


def _file_of(source: str, files: set[str]) -> str:
    name = source.partition(":")[0]
    return name if name in files else source


def file_failures(parsed: ParsedKG) -> list[FileFailure]:
    """The files of ``parsed`` that failed as a whole, in input order.

    >>> from medsynth.kg.model import BadRow, RawTriple
    >>> ok = [RawTriple("Liver", "location", "Abdomen", f"a.csv:{n}") for n in range(3)]
    >>> bad = [BadRow(f"b.csv:{n}", "x", "expected 3 fields") for n in range(2)]
    >>> [f.file for f in file_failures(ParsedKG(ok, [], bad, ["a.csv", "b.csv"]))]
    ['b.csv']
    >>> one = [BadRow("a.csv:9", "x", "expected 3 fields")]  # one file: its own rejects
    >>> [f.file for f in file_failures(ParsedKG(ok[:1], [], one, ["a.csv"]))]
    []
    """
    files = set(parsed.files)
    good: Counter[str] = Counter(_file_of(t.source, files) for t in parsed.triples)
    good.update(_file_of(a.source, files) for a in parsed.aliases)
    bad: Counter[str] = Counter()
    whole: dict[str, str] = {}
    for row in parsed.bad_rows:
        name = _file_of(row.source, files)
        bad[name] += 1
        if row.source == name:
            whole.setdefault(name, row.reason)
    failures: list[FileFailure] = []
    for name in parsed.files:
        ok, rejected = good[name], bad[name]
        if name in whole:
            reason = f"could not be read: {whole[name]}"
        elif rejected and not ok:
            reason = f"nothing usable: all {rejected} rows rejected"
        elif len(parsed.files) > 1 and rejected and rejected / (ok + rejected) >= MOSTLY_BAD:
            reason = f"{rejected} of {ok + rejected} rows rejected"
        else:
            continue
        failures.append(FileFailure(name, reason, _cost(name, ok, rejected)))
    return failures


def _cost(name: str, ok: int, rejected: int) -> str:
    if name in NAME_MAPS:
        kept = f" (only {ok} pairs kept)" if ok else ""
        return (
            f"its English-Chinese name pairs are missing{kept}: Chinese names in the other "
            "files become entities of their own instead of aliases of the English ones"
        )
    return f"the statements of {rejected} rows are missing from the graph"


def summary(failures: list[FileFailure], entities_new: int, chinese_only: int) -> str:
    """A few lines for the user: each failed file, why, and what the import would cost."""
    lines = [f"{len(failures)} input file(s) failed as a whole:"]
    for failure in failures:
        lines.append(f"  {failure.file}: {failure.reason}; {failure.cost}")
    lines.append(
        f"  this import gives {entities_new} new entities, {chinese_only} of them with only a "
        "Chinese name (not merged with an English entity)"
    )
    return "\n".join(lines)
