# MedSynth tasks. The virtual environment is .venv (made by the README's commands).

python := if path_exists(".venv/bin/python") == "true" { ".venv/bin/python" } else { "python3" }
lint_imports := if path_exists(".venv/bin/lint-imports") == "true" { ".venv/bin/lint-imports" } else { "lint-imports" }

# list recipes
default:
    @just --list

# run the demo: init a workspace, import the demo KG, link images, build indexes, query
demo *ARGS:
    {{python}} -m medsynth demo {{ARGS}}

# run the test suite (unit + integration on tiny real models and ../shared/data), one worker per core (at most 4)
test *ARGS: gguf-tools
    {{python}} -m pytest -q -n auto --maxprocesses 4 --dist load {{ARGS}}

# llama.cpp's GGUF converter, from llama-cpp-python's source distribution on PyPI (once; then offline)
gguf-tools:
    {{python}} -m medsynth models get-converter

# fast unit tests only
test-unit *ARGS:
    {{python}} -m pytest -q tests/unit {{ARGS}}

# run the README's demo command in a fresh clone with a fresh .venv (slow: installs everything)
test-readme:
    bash tests/readme_fresh_clone.sh

# ruff + mypy + import-linter (core never imports the TUI; the layers of the package hold)
lint:
    {{python}} -m ruff check medsynth tests
    {{python}} -m ruff format --check medsynth tests
    {{python}} -m mypy medsynth
    {{lint_imports}}

# benchmarks (numbers, not pass/fail): KG import, path queries, hnswlib recall
bench *ARGS:
    {{python}} tests/bench/bench_kg.py {{ARGS}}
    {{python}} tests/bench/bench_engine.py
    {{python}} tests/bench/bench_llamacpp.py
    {{python}} tests/bench/bench_ingest.py
    {{python}} tests/bench/bench_ground.py
    {{python}} tests/bench/bench_synth.py
    {{python}} tests/bench/bench_served.py
    {{python}} tests/bench/bench_gate.py
    {{python}} tests/bench/bench_hardneg_slake.py
    {{python}} tests/bench/bench_tui.py
    {{python}} tests/bench/bench_shapes.py
    {{python}} tests/bench/gpu_bench.py --cpu-tiny --json "${TMPDIR:-/tmp}/gpu_bench_cpu_tiny.json"
    {{python}} tests/bench/gpu_bench.py --cpu-mid --json "${TMPDIR:-/tmp}/gpu_bench_cpu_mid.json"

# GPU: QLoRA SFT + GRPO steps per 7B/3B shape, peak memory and speed vs the preflight (gpu_bench.json)
gpu-bench *ARGS:
    {{python}} tests/bench/gpu_bench.py {{ARGS}}

# the TUI on a workspace (default: the demo's)
tui WS="demo-workspace":
    {{python}} -m medsynth tui {{WS}}

# SFT then GRPO smoke runs (tiny random VLM, a few CPU steps) on the newest export of WS
train-smoke WS="demo-workspace":
    {{python}} -m medsynth train sft --smoke -w {{WS}}
    {{python}} -m medsynth train grpo --smoke -w {{WS}}

# build the tiny randomly initialised test models (LLaVA, Idefics3, BiomedCLIP layout) offline
tiny-models OUT="models/tiny":
    {{python}} models/build_tiny.py {{OUT}}

# the tiny Idefics3 as GGUF + mmproj (llama.cpp's converter; offline once gguf-tools ran)
tiny-gguf OUT="models/tiny/gguf": gguf-tools
    {{python}} models/build_tiny_gguf.py {{OUT}}

# list each model role, whether it is here, and how to bring what is missing
doctor *ARGS:
    {{python}} -m medsynth models doctor {{ARGS}}

# regenerate the demo KG's procedural images
demo-images:
    {{python}} -m medsynth.kg.phantom kg/demo/images
