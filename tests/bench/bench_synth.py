"""Synthesis throughput.

1. Pipeline efficiency: every generator over N grounded records with a fake model that takes a
   fixed time per call, C calls at a time. Ideal wall time = model calls x latency / C (the model
   is the only cost); efficiency = ideal / measured (goal >= 0.95). Hardneg makes no calls; its
   image retrieval counts against the pipeline.
2. Samples per minute with the real embedded GGUF model (SmolLM2-135M, llama.cpp, CPU) on the
   demo's records, every generator, the demo's small settings, in a fresh workspace.

``.venv/bin/python tests/bench/bench_synth.py [--records N] [--latency S] [--concurrency C]
[--skip-gguf]`` (``just bench``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from medsynth.backends.fake import ScriptedChat
from medsynth.config import SynthConfig
from medsynth.synth.service import synthesize
from tests.fakes.synth import make_kg, make_records, reply


def efficiency(records: int, latency: float, concurrency: int) -> None:
    """Measured vs ideal wall time with a fixed-latency fake model."""
    with tempfile.TemporaryDirectory() as tmp:
        ws = make_kg(Path(tmp))
        make_records(ws, Path(tmp), records)
        model = ScriptedChat(reply, latency_s=latency)
        options = SynthConfig(concurrency=concurrency)
        started = time.perf_counter()
        report = synthesize(
            ws,
            options=options,
            models={"generator": model, "vision_generator": model, "verifier": model},
        )
        wall = time.perf_counter() - started
        calls = len(model.calls)
        ideal = calls * latency / concurrency
        samples = sum(report.kept.values()) + sum(report.rejected.values())
        print(
            f"pipeline: {records} records, {sum(report.tasks.values())} tasks, {samples} samples, "
            f"{calls} calls x {latency * 1000:.0f} ms at concurrency {concurrency}: {wall:.2f} s "
            f"(ideal {ideal:.2f} s), efficiency {ideal / wall:.3f} (goal >= 0.95)"
        )


def gguf_rate() -> None:
    """Samples per minute with the embedded model on the demo records."""
    from medsynth.demo import DEMO_SYNTH, demo_kg_dir
    from medsynth.demo_records import write_demo_records
    from medsynth.ground import ground
    from medsynth.ingest import ingest
    from medsynth.kg.service import import_kg, link_entity_images
    from medsynth.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(Path(tmp) / "ws")
        kg = demo_kg_dir()
        import_kg(ws, kg / "triples.tsv", "triples")
        link_entity_images(ws, kg / "images", "folders")
        ingest(ws, write_demo_records(Path(tmp) / "records"), "folder", name="demo")
        ground(ws, "demo")
        options = ws.config.synth.model_copy(update=DEMO_SYNTH)
        report = synthesize(ws, options=options)
        data = report.as_dict()
        calls = sum(data["model_calls"].values())
        print(
            f"embedded GGUF: {sum(report.kept.values())} kept + {sum(report.rejected.values())} "
            f"rejected samples, {sum(report.tasks_failed.values())} failed tasks, {calls} model "
            f"calls in {data['seconds']:.1f} s: {data['samples_per_min']} samples/min "
            f"({calls * 60 / data['seconds']:.1f} calls/min); kept by generator {dict(report.kept)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=60)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-gguf", action="store_true")
    args = parser.parse_args()
    efficiency(args.records, args.latency, args.concurrency)
    if not args.skip_gguf:
        gguf_rate()


if __name__ == "__main__":
    main()
