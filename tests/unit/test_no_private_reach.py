"""No module reaches into another object's private members (``thing._name``): a wrapper or a
helper that needs something from a backend asks for it through a public method. The one
exception is named here with its reason."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "medsynth"
REACH = re.compile(r"(?<![\w.])(?!self\b|cls\b)([A-Za-z_]\w*)\._[a-z]\w*")
ALLOWED = {
    # llama-cpp-python keeps each completion's sampler (grammar included) in Llama._sampler and
    # leaves it to the garbage collector; we free it on the job thread (see release_sampler)
    ("backends/llamacpp.py", "llama._sampler"),
}


def test_no_private_member_access_across_objects() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            for match in REACH.finditer(code):
                text = match.group(0)
                if text.startswith(("os._", "sys._")) or (relative, text) in ALLOWED:
                    continue
                if code.strip().startswith(('"', "'")) or "``" in line:
                    continue  # prose in a docstring
                found.append(f"{relative}:{number}: {text}")
    assert found == []


def test_the_check_would_find_a_reach_in() -> None:
    assert REACH.search("inputs = chat._inputs(chat._conversation(m))")
    assert not REACH.search("self._lock = threading.Lock()")


def test_eval_asks_the_model_how_many_calls_it_takes_not_its_backend_name() -> None:
    runner = (Path(__file__).resolve().parents[2] / "medsynth" / "eval" / "runner.py").read_text()
    assert "concurrency_of(" in runner
    assert '"llamacpp"' not in runner and "'llamacpp'" not in runner
