"""Call log: cache at temperature 0, retries with backoff, schema checks with one repair."""

from __future__ import annotations

import json

import pytest

from medsynth.backends.base import BackendError, InvalidOutput, TransientBackendError
from medsynth.backends.calllog import CallLog, Template
from medsynth.backends.fake import ScriptedChat
from medsynth.workspace import Workspace

SCHEMA = {
    "type": "object",
    "properties": {"disease": {"type": "string"}, "organ": {"type": "string"}},
    "required": ["disease", "organ"],
    "additionalProperties": False,
}
T = Template("extract", "1")
ASK = [{"role": "user", "content": "CT of the chest shows a mass in the left lung."}]


def log(ws: Workspace, model: ScriptedChat, **kw: object) -> CallLog:
    sleeps: list[float] = []
    calllog = CallLog(ws.db, model, role="generator", sleep=sleeps.append, **kw)  # type: ignore[arg-type]
    calllog.sleeps = sleeps  # type: ignore[attr-defined]
    return calllog


def rows(ws: Workspace) -> list[dict[str, object]]:
    return list(ws.db.query("SELECT * FROM llm_calls ORDER BY id"))


def test_schema_output_is_parsed_logged_and_cached(ws: Workspace) -> None:
    model = ScriptedChat(['{"disease": "lung cancer", "organ": "lung"}'])
    calllog = log(ws, model)
    first = calllog.call(ASK, template=T, schema=SCHEMA)
    assert first.parsed == {"disease": "lung cancer", "organ": "lung"}
    assert not first.cached
    again = log(ws, ScriptedChat([]))  # a second run: no replies left, must not be asked
    second = again.call(ASK, template=T, schema=SCHEMA)
    assert second.cached and second.parsed == first.parsed and second.call_id == first.call_id
    assert again.model_calls == 0 and again.cache_hits == 1
    [row] = rows(ws)
    assert row["status"] == "ok"
    assert row["template"] == "extract" and row["template_version"] == "1"
    assert json.loads(str(row["parsed_output"])) == first.parsed
    assert row["prompt_tokens"] and row["completion_tokens"]
    assert json.loads(str(row["params"]))["temperature"] == 0.0


def test_nonzero_temperature_is_never_cached(ws: Workspace) -> None:
    model = ScriptedChat(["a", "b"])
    calllog = log(ws, model)
    assert calllog.call(ASK, template=T, temperature=0.7).text == "a"
    assert calllog.call(ASK, template=T, temperature=0.7).text == "b"
    assert calllog.model_calls == 2


def test_images_are_part_of_the_key(ws: Workspace) -> None:
    from PIL import Image

    model = ScriptedChat(["one", "two"])
    calllog = log(ws, model)
    black, white = Image.new("L", (8, 8), 0), Image.new("L", (8, 8), 255)
    assert calllog.call(ASK, template=T, images=[black]).text == "one"
    assert calllog.call(ASK, template=T, images=[white]).text == "two"
    assert calllog.call(ASK, template=T, images=[black]).cached


def test_invalid_json_is_repaired_once(ws: Workspace) -> None:
    model = ScriptedChat(
        ["I think it is lung cancer.", '{"disease": "lung cancer", "organ": "lung"}']
    )
    result = log(ws, model).call(ASK, template=T, schema=SCHEMA)
    assert result.parsed["organ"] == "lung"
    assert len(result.call_ids) == 2
    statuses = [r["status"] for r in rows(ws)]
    assert statuses == ["invalid", "ok"]
    repair_prompt = model.calls[1]["messages"][-1]["content"]  # type: ignore[index]
    assert "not JSON" in repair_prompt and '"required"' in repair_prompt


def test_output_that_stays_invalid_raises_with_the_raw_text(ws: Workspace) -> None:
    model = ScriptedChat(['{"disease": "x"}', '{"disease": "x", "organ": 3}'])
    with pytest.raises(InvalidOutput) as info:
        log(ws, model).call(ASK, template=T, schema=SCHEMA)
    assert info.value.raw == '{"disease": "x", "organ": 3}'
    assert "3 is not of type 'string'" in info.value.message
    assert [r["status"] for r in rows(ws)] == ["invalid", "invalid"]
    # a re-run reproduces the same verdict from the log, without calling the model
    again = log(ws, ScriptedChat([]))
    with pytest.raises(InvalidOutput):
        again.call(ASK, template=T, schema=SCHEMA)
    assert again.model_calls == 0


def test_transient_failures_retry_with_backoff(ws: Workspace) -> None:
    flaky = TransientBackendError("connection refused", source="http://127.0.0.1:9")
    model = ScriptedChat([flaky, flaky, "fine"])
    calllog = log(ws, model, retries=3, backoff_s=0.5)
    assert calllog.call(ASK, template=T).text == "fine"
    assert calllog.sleeps == [0.5, 1.0]  # type: ignore[attr-defined]
    assert rows(ws)[0]["attempts"] == 3


def test_giving_up_logs_the_error_and_keeps_earlier_rows(ws: Workspace) -> None:
    down = TransientBackendError("HTTP 500", source="http://127.0.0.1:8000/v1")
    model = ScriptedChat(["first answer", down, down, down])
    calllog = log(ws, model, retries=2)
    calllog.call(ASK, template=T)
    with pytest.raises(TransientBackendError, match="gave up after 3 attempt"):
        calllog.call([{"role": "user", "content": "another"}], template=T)
    assert [r["status"] for r in rows(ws)] == ["ok", "error"]
    assert calllog.call(ASK, template=T).cached  # the finished call survives


def test_permanent_errors_are_not_retried(ws: Workspace) -> None:
    model = ScriptedChat([BackendError("model 'x' not found"), "unused"])
    calllog = log(ws, model, retries=3)
    with pytest.raises(BackendError, match="not found"):
        calllog.call(ASK, template=T)
    assert calllog.sleeps == []  # type: ignore[attr-defined]
    assert rows(ws)[0]["status"] == "error"


def writes(ws: Workspace) -> list[str]:
    """The statements that will change ``llm_calls`` from now on (the first word and table)."""
    seen: list[str] = []

    def trace(statement: str) -> None:
        words = statement.split()
        if words and words[0].upper() in ("INSERT", "UPDATE") and "llm_calls" in statement:
            seen.append(words[0].upper())

    ws.db.conn.set_trace_callback(trace)
    return seen


def test_a_call_is_logged_with_its_verdict_in_one_write(ws: Workspace) -> None:
    """A model call is one INSERT with its status and parsed output (it was an INSERT, then an
    UPDATE for the verdict: two transactions under the stage lock per call, and a kill between
    them left an 'ok' row without its parsed output)."""
    seen = writes(ws)
    model = ScriptedChat(['{"disease": "x"}', '{"disease": "lung cancer", "organ": "lung"}'])
    result = log(ws, model).call(ASK, template=T, schema=SCHEMA)
    assert result.parsed == {"disease": "lung cancer", "organ": "lung"}
    assert seen == ["INSERT", "INSERT"]  # the invalid answer, then its repair
    invalid, ok = rows(ws)
    assert (invalid["status"], invalid["parsed_output"]) == ("invalid", None)
    assert "'organ' is a required property" in str(invalid["error"])
    assert (ok["status"], json.loads(str(ok["parsed_output"]))) == ("ok", result.parsed)
    assert ok["error"] in (None, "")
    assert ok["prompt_hash"] != invalid["prompt_hash"]  # the repair asked something else
    seen.clear()
    assert log(ws, ScriptedChat([])).call(ASK, template=T, schema=SCHEMA).cached
    assert seen == []  # a cache hit writes nothing
