"""Pixels through llama.cpp: the tiny Idefics3 (SmolVLM layout) converted to GGUF + mmproj by
llama.cpp's own converter (fixture ``tiny_gguf``), loaded by the ``llamacpp`` backend with its
projector, and used for grounding, synthesis and chat on real SLAKE records.

The model is random: the tests check that the image is encoded and reaches the model (different
pixels, different reply at temperature 0; the call log keys each call by its image), not what
the model says.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medsynth.backends.llamacpp import LlamaCppChat, load_llamacpp
from medsynth.chat import ChatSession
from medsynth.cli import main
from medsynth.config import CONFIG_FILE, SynthConfig, write_config
from medsynth.eval.models import load_model, parse_model_spec
from medsynth.ingest import ingest
from medsynth.kg.service import build_indexes, import_kg, link_entity_images
from medsynth.synth.service import load_models, synthesize
from medsynth.workspace import Workspace
from tests.conftest import TinyGguf, shared_path
from tests.fakes.synth import ground_record

pytestmark = pytest.mark.slow
QUESTION = [{"role": "user", "content": "What does the image show?"}]


def picture(tmp: Path, name: str, pixels: np.ndarray) -> Path:
    path = tmp / name
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("pixels")
    rng = np.random.default_rng(7)
    return {
        "black": picture(tmp, "black.png", np.zeros((64, 64, 3))),
        "noise": picture(tmp, "noise.png", rng.integers(0, 255, (64, 64, 3))),
        "gradient": picture(
            tmp, "gradient.png", np.tile(np.arange(64)[:, None, None] * 4, (1, 64, 3))
        ),
    }


@pytest.fixture(scope="module")
def vision(tiny_gguf: TinyGguf) -> LlamaCppChat:
    return load_llamacpp(tiny_gguf.model, mmproj=tiny_gguf.mmproj, n_ctx=1024)


def test_the_converter_wrote_both_halves_offline(tiny_gguf: TinyGguf) -> None:
    import sys

    from medsynth.train.gguf_convert import converter_dir

    sys.path.insert(0, str(converter_dir() / "gguf-py"))  # the converter's own reader
    try:
        from gguf import GGUFReader
    finally:
        sys.path.pop(0)
    assert tiny_gguf.model.stat().st_mode & 0o777 == 0o600
    lm = GGUFReader(tiny_gguf.model)
    projector = GGUFReader(tiny_gguf.mmproj)
    arch = bytes(lm.fields["general.architecture"].parts[-1]).decode()
    kind = bytes(projector.fields["clip.projector_type"].parts[-1]).decode()
    assert arch == "llama" and kind == "idefics3"
    assert len(lm.tensors) == 21 and len(projector.tensors) > 20
    print(f"tiny GGUF + mmproj converted in {tiny_gguf.seconds:.1f} s")


def test_different_pixels_give_a_different_reply_at_temperature_zero(
    vision: LlamaCppChat, images: dict[str, Path]
) -> None:
    assert vision.supports_images
    replies = {
        name: vision.generate(QUESTION, images=[path], max_tokens=10)
        for name, path in images.items()
    }
    again = vision.generate(QUESTION, images=[images["black"]], max_tokens=10)
    assert str(again) == str(replies["black"])  # deterministic
    assert str(replies["black"]) != str(replies["noise"])  # the pixels change the reply
    assert len({str(r) for r in replies.values()}) >= 2
    text_only = vision.generate(QUESTION, max_tokens=10)
    # 5 tiles of 4 tokens each (2 x 2 grid + overview) plus their markers reach the context
    assert replies["black"].prompt_tokens - text_only.prompt_tokens >= 20  # type: ignore[operator]


def test_chat_reads_the_image(ws: Workspace, tiny_gguf: TinyGguf, images: dict[str, Path]) -> None:
    spec = f"llamacpp:{tiny_gguf.model},mmproj={tiny_gguf.mmproj}"
    model = load_model(parse_model_spec(spec, ws.config))
    answers = []
    for name in ("black", "noise"):
        session = ChatSession(ws, model, images=[images[name]], max_tokens=10)
        assert session.sees_images and session.notes == []
        answers.append(session.ask("Which organ is shown?").content)
        key = session.image_keys[0]
        last = ws.db.execute("SELECT image_hashes FROM llm_calls ORDER BY id DESC").fetchone()[0]
        assert json.loads(last) == [f"file-sha256:{key}"]
    assert answers[0] != answers[1]


@pytest.fixture(scope="module")
def slake_ws(tmp_path_factory: pytest.TempPathFactory, tiny_gguf: TinyGguf) -> Iterator[Workspace]:
    """Real SLAKE records, KG and entity images; the vision generator is the tiny GGUF."""
    root = shared_path("slake")
    ws = Workspace.init(tmp_path_factory.mktemp("vision_slake") / "ws")
    import_kg(ws, root / "KG", "slake")
    link_entity_images(ws, root / "imgs", "slake-detection")
    build_indexes(ws)
    role = ws.config.models.vision_generator
    role.backend, role.model, role.mmproj = "llamacpp", str(tiny_gguf.model), str(tiny_gguf.mmproj)
    role.context = 1024
    ws.config.ground.top_k = 1
    ws.config.ground.max_tokens = 32
    write_config(ws.root / CONFIG_FILE, ws.config)
    ingest(ws, root, "slake", filters=False)
    with ws.db.conn:
        ws.db.execute(
            "DELETE FROM records WHERE id NOT IN (SELECT id FROM records ORDER BY id LIMIT 3)"
        )
    yield ws
    ws.close()


def image_keys(ws: Workspace, template: str) -> list[list[str]]:
    rows = ws.db.execute(
        "SELECT image_hashes FROM llm_calls WHERE template = ? ORDER BY id", [template]
    ).fetchall()
    return [json.loads(row[0]) for row in rows]


def test_grounding_sends_each_record_image(slake_ws: Workspace) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["ground", "--limit", "3", "-w", str(slake_ws.root), "--json"]) == 0
    keys = image_keys(slake_ws, "extract_entities")  # a reply that fails its schema is retried
    shas = [
        json.loads(row[0])[0] for row in slake_ws.db.execute("SELECT image_sha256 FROM records")
    ]
    assert len(keys) >= 3 and all(len(k) == 1 for k in keys)
    assert {k[0] for k in keys} == {f"file-sha256:{sha}" for sha in shas}  # each record's image


def test_synthesis_writes_describe_and_reasoning_with_the_image(slake_ws: Workspace) -> None:
    from medsynth.kg.lookup import ExactMatcher

    matcher = ExactMatcher(slake_ws.db)
    for record_id, meta in slake_ws.db.execute("SELECT id, meta FROM records").fetchall():
        labels = [b["label"] for b in json.loads(meta)["boxes"]]
        disease = next((x for x in labels if matcher.match(x, "disease")), None)
        organ = next((x for x in labels if matcher.match(x, "organ")), None)
        if organ:
            ground_record(slake_ws, record_id, disease or "normal", organ)
    models = load_models(slake_ws, {"generator", "vision_generator", "verifier"})
    options = SynthConfig(
        reasoning_questions=1, reasoning_rois=1, reasoning_retries=0, max_tokens=32
    )
    options.reformat_max_tokens = 64
    synthesize(slake_ws, ["describe", "reasoning"], options=options, models=models)
    describe = image_keys(slake_ws, "synth_pubmedvision")
    assert describe and all(k and k[0].startswith("file-sha256:") for k in describe)
    located = image_keys(slake_ws, "synth_reasoning_loc")
    assert located and all(len(k) == 2 and k[1].startswith("crop:") for k in located)  # + crop
    for meta in slake_ws.db.execute("SELECT meta FROM samples WHERE generator = 'describe'"):
        assert not json.loads(meta[0]).get("blinded")


def test_llava_language_model_converts_but_its_clip_projector_is_refused(
    tiny_models: Path, tmp_path: Path
) -> None:
    """LLaVA-1.5's layout: the converter writes the language model; llama.cpp converts its CLIP
    projector with a separate legacy script only, so the export's error says so."""
    from medsynth.errors import MedsynthError
    from medsynth.train.gguf_convert import convert

    lm = convert(tiny_models / "llava", tmp_path / "llava.gguf", pretokenizer_fallback="gpt-2")
    assert lm.path.stat().st_size > 100_000
    with pytest.raises(MedsynthError) as refused:
        convert(tiny_models / "llava", tmp_path / "mmproj-llava.gguf", mmproj=True)
    assert "clip_vision_model" in str(refused.value) and "--format hf" in str(refused.value)
    assert not (tmp_path / "mmproj-llava.gguf").exists()
