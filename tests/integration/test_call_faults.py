"""Faults end to end: call log + a real backend against a loopback server that misbehaves.

Refused, hung and failing (HTTP 500) servers give a transient error after the retries, invalid
JSON gives InvalidOutput with the raw text; every finished call stays in llm_calls and a re-run
repeats none of them.
"""

from __future__ import annotations

import pytest

from medsynth.backends.base import InvalidOutput, TransientBackendError
from medsynth.backends.calllog import CallLog, Template
from medsynth.backends.ollama_chat import OllamaChat
from medsynth.workspace import Workspace
from tests.fakes.ollama_server import DEFAULT_TAG, serve

SCHEMA = {
    "type": "object",
    "properties": {"disease": {"type": "string"}, "organ": {"type": "string"}},
    "required": ["disease", "organ"],
    "additionalProperties": False,
}
T = Template("extract_entities", "1")


def ask(n: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Caption {n}: CT shows pneumonia in the right lung."}]


def statuses(ws: Workspace) -> list[str]:
    return [r["status"] for r in ws.db.query("SELECT status FROM llm_calls ORDER BY id")]


def test_faults_keep_finished_calls_and_name_the_server(ws: Workspace) -> None:
    with serve() as server:
        model = OllamaChat(DEFAULT_TAG, host=server.url, timeout_s=60)
        log = CallLog(ws.db, model, role="generator", retries=2, sleep=lambda _s: None)
        impatient = OllamaChat(DEFAULT_TAG, host=server.url, timeout_s=1)
        hung_log = CallLog(ws.db, impatient, role="generator", retries=0)
        good = log.call(ask(1), template=T, schema=SCHEMA, max_tokens=48)
        assert set(good.parsed) == {"disease", "organ"}

        server.mode = "error500"
        with pytest.raises(TransientBackendError, match="gave up after 3 attempt") as info:
            log.call(ask(2), template=T, schema=SCHEMA, max_tokens=48)
        assert server.url in str(info.value)

        server.mode = "hang"
        with pytest.raises(TransientBackendError, match="did not answer within 1 s"):
            hung_log.call(ask(3), template=T, schema=SCHEMA, max_tokens=48)

        server.mode = "invalid_json"
        with pytest.raises(InvalidOutput) as invalid:
            log.call(ask(4), template=T, schema=SCHEMA, max_tokens=48)
        assert invalid.value.raw  # the raw text is kept for the reject
        url = server.url
    assert statuses(ws) == ["ok", "error", "error", "invalid", "invalid"]

    # the server is gone now: the finished call is still answered, from the log alone
    dead = OllamaChat(DEFAULT_TAG, host=url, timeout_s=1)
    rerun = CallLog(ws.db, dead, role="generator", retries=0)
    assert rerun.call(ask(1), template=T, schema=SCHEMA, max_tokens=48).parsed == good.parsed
    with pytest.raises(TransientBackendError, match="is `ollama serve` running"):
        rerun.call(ask(2), template=T, schema=SCHEMA, max_tokens=48)
    assert rerun.model_calls == 0 and rerun.cache_hits == 1
