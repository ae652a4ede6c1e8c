"""open_clip image and text encoder from a local folder (BiomedCLIP's layout included).

A folder holds ``open_clip_config.json`` and the weights (``open_clip_model.safetensors``
preferred; pickled checkpoints load with ``weights_only=True``). BiomedCLIP's config names its
text tower by hub id (``text_cfg.hf_model_name``); offline that id cannot be resolved, so the
loader points it at a local copy: the folder named by ``$MEDSYNTH_BIOMEDCLIP_TEXT``, else
``text_tower/`` beside the config. Loading happens from a temporary staging folder holding the
rewritten config, links to the weights and the text tower's tokenizer files; the model folder
itself is never modified.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medsynth.backends.base import load_image
from medsynth.backends.encoders import FloatArray, l2_normalise, quiet_model_loading
from medsynth.errors import ConfigError

CONFIG_NAME = "open_clip_config.json"
TEXT_ENV = "MEDSYNTH_BIOMEDCLIP_TEXT"
TEXT_DIR = "text_tower"
WEIGHT_NAMES = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
    "model.safetensors",
    "pytorch_model.bin",
)
TOKENIZER_FILES = (
    "config.json",
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
)
BATCH = 32


def read_clip_config(folder: Path) -> dict[str, Any]:
    """The folder's ``open_clip_config.json`` (ConfigError when missing or unreadable)."""
    path = folder / CONFIG_NAME
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"no open_clip model folder here ({CONFIG_NAME} is missing)",
            source=str(folder),
            hint="copy the whole model folder from a connected machine (for BiomedCLIP: "
            "`hf download microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224 "
            "--local-dir DIR`), or run `medsynth models doctor`",
        ) from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {CONFIG_NAME}: {exc}", source=str(path)) from exc
    if "model_cfg" not in data:
        raise ConfigError(f"{CONFIG_NAME} has no model_cfg", source=str(path))
    return data


def find_weights(folder: Path) -> Path | None:
    """The checkpoint open_clip would pick in ``folder`` (safetensors first)."""
    for name in WEIGHT_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def resolve_text_tower(folder: Path, name: str) -> tuple[Path | None, str]:
    """A local folder for the configured text tower ``name`` and where it came from."""
    if name:
        candidate = Path(name).expanduser()
        candidate = candidate if candidate.is_absolute() else folder / candidate
        if candidate.is_dir():
            return candidate, "config"
    env = os.environ.get(TEXT_ENV, "")
    if env:
        path = Path(env).expanduser()
        return (path if path.is_dir() else None), f"${TEXT_ENV}"
    if (folder / TEXT_DIR).is_dir():
        return folder / TEXT_DIR, f"{TEXT_DIR}/"
    return None, ""


def text_tower_error(folder: Path, name: str, source: str) -> ConfigError:
    """ConfigError telling the user which hub repo to fetch on a connected machine, and where."""
    looked = f"${TEXT_ENV} = {os.environ.get(TEXT_ENV)}" if source else f"{folder / TEXT_DIR}"
    return ConfigError(
        f"the config names text tower {name!r}, a hub repository, and no local copy was found "
        f"(looked at {looked})",
        source=str(folder / CONFIG_NAME),
        hint=f"on a connected machine run `hf download {name} --include '*.json' '*.txt' "
        f"--local-dir {TEXT_DIR}` (config.json, vocab.txt and tokenizer files; no weights "
        f"needed), copy {TEXT_DIR}/ into {folder}, or set {TEXT_ENV} to its path",
    )


def _link(source: Path, target: Path) -> None:
    try:
        target.symlink_to(source.resolve())
    except OSError:
        shutil.copy2(source, target)


def stage_folder(folder: Path, data: dict[str, Any], text_dir: Path, stage: Path) -> None:
    """Fill ``stage`` with the config pointed at ``text_dir``, the weights and tokenizer files."""
    text_cfg = data["model_cfg"]["text_cfg"]
    text_cfg["hf_model_name"] = str(text_dir.resolve())
    text_cfg["hf_tokenizer_name"] = str(text_dir.resolve())
    (stage / CONFIG_NAME).write_text(json.dumps(data, indent=2), encoding="utf-8")
    weights = find_weights(folder)
    if weights is not None:
        _link(weights, stage / weights.name)
    for name in TOKENIZER_FILES:
        if (text_dir / name).is_file():
            _link(text_dir / name, stage / name)


class ClipEncoder:
    """Text and image encoder backed by an open_clip model in a local folder."""

    weak = False

    def __init__(self, folder: Path, device: str | None = None) -> None:
        folder = Path(folder).expanduser()
        data = read_clip_config(folder)
        if find_weights(folder) is None:
            raise ConfigError(
                "no weights in the CLIP folder (expected open_clip_model.safetensors)",
                source=str(folder),
                hint="copy the weights file next to open_clip_config.json",
            )
        quiet_model_loading()
        import open_clip
        import torch

        self.folder = folder
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dim = int(data["model_cfg"]["embed_dim"])
        self.name = f"clip:{folder.name}"
        self.text_tower: Path | None = None
        text_cfg = data["model_cfg"].get("text_cfg", {})
        with tempfile.TemporaryDirectory(prefix="medsynth-clip-") as tmp:
            source = folder
            if "hf_model_name" in text_cfg or "hf_tokenizer_name" in text_cfg:
                name = text_cfg.get("hf_model_name") or text_cfg.get("hf_tokenizer_name", "")
                text_dir, found_at = resolve_text_tower(folder, name)
                if text_dir is None:
                    raise text_tower_error(folder, name, found_at)
                self.text_tower = text_dir
                source = Path(tmp)
                stage_folder(folder, data, text_dir, source)
            try:
                model, preprocess = open_clip.create_model_from_pretrained(
                    f"local-dir:{source}", device=self.device, weights_only=True
                )
                self.tokenizer: Any = open_clip.get_tokenizer(f"local-dir:{source}")
            except (OSError, RuntimeError, ValueError, KeyError) as exc:
                raise ConfigError(
                    f"open_clip could not load the folder: {exc}",
                    source=str(folder),
                    hint="check the folder with `medsynth models doctor`",
                ) from exc
        self.clip: Any = model.eval()
        self.preprocess: Any = preprocess

    def encode_text(self, texts: list[str]) -> FloatArray:
        """Unit vectors, one row per text."""
        import torch

        rows = []
        with torch.inference_mode():
            for start in range(0, len(texts), BATCH):
                tokens = self.tokenizer(texts[start : start + BATCH]).to(self.device)
                rows.append(self.clip.encode_text(tokens).float().cpu().numpy())
        return self._stack(rows)

    def encode_image(self, images: list[Image.Image]) -> FloatArray:
        """Unit vectors, one row per image."""
        import torch

        rows = []
        with torch.inference_mode():
            for start in range(0, len(images), BATCH):
                chunk = images[start : start + BATCH]
                pixels = torch.stack([self.preprocess(load_image(i)) for i in chunk])
                rows.append(self.clip.encode_image(pixels.to(self.device)).float().cpu().numpy())
        return self._stack(rows)

    def _stack(self, rows: list[np.ndarray]) -> FloatArray:
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(np.concatenate(rows))


def describe_clip_folder(folder: Path) -> dict[str, Any]:
    """What a CLIP folder holds and lacks (for ``medsynth models doctor``); never raises."""
    folder = Path(folder).expanduser()
    report: dict[str, Any] = {"folder": str(folder), "exists": folder.is_dir(), "missing": []}
    missing: list[str] = report["missing"]
    if not folder.is_dir():
        missing.append(f"folder {folder}")
        report["ok"] = False
        return report
    weights = find_weights(folder)
    report["weights"] = weights.name if weights else None
    report["weights_format"] = (
        None if weights is None else "safetensors" if weights.suffix == ".safetensors" else "pickle"
    )
    if weights is None:
        missing.append("weights (open_clip_model.safetensors)")
    try:
        data = read_clip_config(folder)
    except ConfigError as exc:
        missing.append(f"{CONFIG_NAME} ({exc.message})")
        report["ok"] = False
        return report
    model_cfg = data["model_cfg"]
    report["embed_dim"] = model_cfg.get("embed_dim")
    report["vision"] = model_cfg.get("vision_cfg", {}).get("timm_model_name", "open_clip ViT")
    text_cfg = model_cfg.get("text_cfg", {})
    name = text_cfg.get("hf_model_name") or text_cfg.get("hf_tokenizer_name") or ""
    text: dict[str, Any] = {"configured": name or "built-in", "resolved": None, "found_at": ""}
    if name:
        text_dir, found_at = resolve_text_tower(folder, name)
        text["found_at"] = found_at
        if text_dir is None:
            missing.append(f"local text tower for {name} ({TEXT_DIR}/ or ${TEXT_ENV})")
        else:
            text["resolved"] = str(text_dir)
            text["has_config"] = (text_dir / "config.json").is_file()
            text["has_tokenizer"] = any(
                (text_dir / f).is_file() for f in ("vocab.txt", "tokenizer.json", "vocab.json")
            )
            if not text["has_config"]:
                missing.append(f"{text_dir}/config.json")
            if not text["has_tokenizer"]:
                missing.append(f"{text_dir}/vocab.txt (or tokenizer.json)")
    report["text_tower"] = text
    report["ok"] = not missing
    return report
