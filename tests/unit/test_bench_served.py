"""Smoke test for tests/bench/bench_served.py (fake OpenAI-compatible servers in their own
processes, the real openai backend), so that the served benchmark cannot silently rot."""

from __future__ import annotations

import json
import urllib.request

from tests.conftest import bench_script


def test_a_small_run_reports_both_ideals() -> None:
    bench = bench_script("bench_served")
    r = bench.run(2, 2, 0.05)
    assert r["calls"] > 0 and r["tasks"] > 0 and r["in_flight"] == 4
    assert r["fluid"] <= r["ideal"] == bench.ideal_wall(r["calls"], 4, 0.05)
    assert 0 < r["fluid_efficiency"] <= r["efficiency"]
    assert r["import"] >= 0  # the openai package import, printed and not timed


def test_the_fake_server_answers_after_its_latency_from_arrival() -> None:
    bench = bench_script("bench_served")
    with bench.servers(1, 0.2) as [url]:
        body = {"model": "m", "messages": [{"role": "system", "content": "You check"}]}
        request = urllib.request.Request(
            url + "/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.load(response)
        with urllib.request.urlopen(url.removesuffix("/v1") + "/stats", timeout=10) as response:
            stats = json.load(response)
    assert json.loads(answer["choices"][0]["message"]["content"])["consistent"] is True
    [(arrived, answered)] = stats["spans"]
    assert stats["calls"] == 1 and 0.2 <= answered - arrived < 0.3
