"""MedSynth benchmark: overhead of LlamaCppChat.generate over a bare llama-cpp-python call.

Run as ``.venv/bin/python tests/bench/bench_llamacpp.py [--reps N] [--quick]`` (``just bench``).
Both sides use the same ``llama_cpp.Llama`` object (the embedded SmolLM2-135M GGUF), the same
prompt, ``max_tokens=128`` and temperature 0; after a warm-up the calls are interleaved and the
median tokens/s of each is printed with their ratio (goal >= 0.95). It prints, never asserts.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from medsynth.backends.llamacpp import embedded_gguf_path, load_llamacpp

PROMPT = [
    {"role": "system", "content": "You are a radiology teacher."},
    {
        "role": "user",
        "content": "Describe in detail how pneumonia appears on a chest X-ray, "
        "which lobes it affects and how it differs from a pleural effusion.",
    },
]
SCHEMA = {
    "type": "object",
    "properties": {"disease": {"type": "string"}, "organ": {"type": "string"}},
    "required": ["disease", "organ"],
    "additionalProperties": False,
}


def timed(call: Callable[[], int]) -> tuple[float, int]:
    """(tokens/s, completion tokens) of one call returning its completion token count."""
    start = time.perf_counter()
    tokens = call()
    return tokens / (time.perf_counter() - start), tokens


def compare(label: str, reps: int, max_tokens: int, schema: dict[str, Any] | None) -> float:
    """Interleaved runs of both ways; prints medians; returns the ratio wrapper / bare."""
    chat = load_llamacpp(embedded_gguf_path(), n_ctx=2048)
    response_format = {"type": "json_object", "schema": schema} if schema else None

    def wrapped() -> int:
        out = chat.generate(PROMPT, schema=schema, temperature=0.0, seed=0, max_tokens=max_tokens)
        return out.completion_tokens or 0

    def bare() -> int:
        response: Any = chat.llama.create_chat_completion(
            messages=PROMPT,  # type: ignore[arg-type]
            temperature=0.0,
            seed=0,
            max_tokens=max_tokens,
            response_format=response_format,  # type: ignore[arg-type]
        )
        return int(response["usage"]["completion_tokens"])

    wrapped(), bare()  # warm-up
    rates: dict[str, list[float]] = {"LlamaCppChat.generate": [], "bare create_chat_completion": []}
    counts: set[int] = set()
    for rep in range(reps):
        order = [("LlamaCppChat.generate", wrapped), ("bare create_chat_completion", bare)]
        for name, call in order if rep % 2 == 0 else order[::-1]:
            rate, tokens = timed(call)
            rates[name].append(rate)
            counts.add(tokens)
    print(f"\n{label} (threads={chat.llama.n_threads}, completion tokens {sorted(counts)})")
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, values in rates.items():
        runs = " ".join(f"{v:.1f}" for v in values)
        print(f"  {name:<28} median {medians[name]:6.1f} tok/s   runs: {runs}")
    ratio = medians["LlamaCppChat.generate"] / medians["bare create_chat_completion"]
    verdict = "ok" if ratio >= 0.95 else "BELOW GOAL"
    print(f"  ratio wrapper / bare: {ratio:.3f}  (goal >= 0.95: {verdict})")
    return ratio


def main() -> None:
    """Plain chat, then schema-constrained chat."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=5, help="timed runs of each way (default 5)")
    parser.add_argument("--quick", action="store_true", help="2 runs, 32 tokens (smoke run)")
    args = parser.parse_args()
    reps, max_tokens = (2, 32) if args.quick else (args.reps, 128)
    print(f"llama.cpp wrapper overhead: {embedded_gguf_path().name}, max_tokens={max_tokens}")
    compare("plain chat", reps, max_tokens, None)
    compare("schema-constrained chat (json_object + schema grammar)", reps, max_tokens, SCHEMA)


if __name__ == "__main__":
    main()
