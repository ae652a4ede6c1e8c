"""Build tiny, randomly initialised test models offline: ``python models/build_tiny.py [OUT_DIR]``.

Nothing is downloaded: every model is made from a config, every tokenizer is trained here on the
built-in text below, and all weights are written as safetensors. The models know nothing; they
exist so that loading, generation, adapters and training run end to end in seconds on a CPU.

- ``llava/``      LlavaForConditionalGeneration (tiny CLIP vision tower + tiny Llama) + processor
- ``idefics3/``   Idefics3ForConditionalGeneration (SmolVLM layout) + processor
- ``biomedclip/`` open_clip model in BiomedCLIP's folder layout, with a tiny BERT in ``text_tower/``
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import torch

SEED = 1234
BIOMEDCLIP_HUB_TEXT = "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract"

CORPUS = """
The chest radiograph shows a mass in the right upper lobe of the lung. The heart is enlarged and
the cardiac silhouette is wider than half of the chest. There is no pleural effusion and no
pneumothorax. The liver is normal in size; the spleen and both kidneys appear normal. A stone is
seen in the left kidney with mild swelling of the renal pelvis. The brain scan shows an area of
bleeding in the left frontal lobe with edema around it. What organ is shown in this image? Which
part of the body does this scan belong to? How is this disease treated? Why does the patient have
chest pain? Where is the lesion located? Is this a CT, an MRI or an X-ray image? The abdomen shows
the colon, the small bowel, the stomach and the bladder. Pneumonia is an infection of the lung that
causes cough, fever and difficulty breathing. Lung cancer may cause cough, weight loss and chest
pain; smoking is a major cause and stopping smoking helps prevent it. Cardiomegaly means an
enlarged heart and is often caused by high blood pressure or heart valve disease. Kidney stones
cause severe pain in the back and side; drinking more water helps prevent them. The respiratory
system includes the nose, the trachea, the bronchi and the lungs. The digestive system includes the
esophagus, the stomach, the liver, the pancreas and the intestines. The nervous system includes the
brain and the spinal cord. The urinary system includes the kidneys, the ureters and the bladder.
Atelectasis is a collapse of part of the lung. Nodules are small round opacities. A fracture is a
break in a bone. The image is an axial slice of the abdomen in a transverse plane. The answer is
yes. The answer is no. The lesion is on the right side. The lesion is on the left side. Describe
this image. Please describe the findings. The doctor explains the diagnosis to the patient. The
student asks the teacher about the scan. Think step by step, then answer. <think> </think>
<answer> </answer> Localization: the region is the lower lobe. Visual analysis: the opacity is
dense and round. Knowledge: this disease belongs to the respiratory system. Conclusion: the answer
follows from the findings.
"""

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<image>\\n' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ eos_token + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>"]


def bpe_tokenizer(extra_special: list[str], vocab_size: int = 600) -> Any:
    """A byte-level BPE tokenizer trained on CORPUS, wrapped for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<pad>", *ROLE_TOKENS, *extra_special]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([CORPUS] * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=ROLE_TOKENS + extra_special,
        chat_template=CHAT_TEMPLATE,
        model_max_length=1024,
        padding_side="left",
    )


def tiny_llama_config(vocab_size: int, tokenizer: Any) -> Any:
    """A 2-layer, 64-wide Llama."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )


def set_generation_defaults(model: Any, tokenizer: Any) -> None:
    """Greedy by default, with the tokenizer's special ids."""
    config = model.generation_config
    config.bos_token_id = tokenizer.bos_token_id
    config.eos_token_id = tokenizer.eos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    config.do_sample = False
    config.max_new_tokens = 32


def build_llava(out: Path) -> None:
    """Tiny LLaVA: CLIP ViT 56 px / patch 14 (16 image tokens) + 2-layer Llama."""
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    torch.manual_seed(SEED)
    tokenizer = bpe_tokenizer(["<image>"])
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=56,
        patch_size=14,
        projection_dim=32,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=tiny_llama_config(len(tokenizer), tokenizer),
        image_token_index=image_token_id,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        projector_hidden_act="gelu",
    )
    model = LlavaForConditionalGeneration(config).eval()
    set_generation_defaults(model, tokenizer)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 56}, crop_size={"height": 56, "width": 56}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
    )
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)


IDEFICS3_TEMPLATE = (
    "<|im_start|>"
    "{% for message in messages %}"
    "{{ message['role'] | capitalize }}"
    "{% if message['content'] is string %}{{ ': ' + message['content'] }}"
    "{% else %}{% if message['content'][0]['type'] == 'image' %}{{ ':' }}"
    "{% else %}{{ ': ' }}{% endif %}"
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<image>' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<end_of_utterance>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)


def build_idefics3(out: Path) -> None:
    """Tiny Idefics3 (SmolVLM layout): 64 px tiles / patch 16, pixel shuffle 2 (4 tokens a tile)."""
    from tokenizers import AddedToken
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
        Idefics3VisionConfig,
    )

    torch.manual_seed(SEED)
    grid = [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
    image_specials = ["<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>"]
    tokenizer = bpe_tokenizer([*image_specials, *grid, "<|im_start|>"])
    # SmolVLM's vocabulary has a token for a blank line, which llama.cpp's image layout for this
    # family looks up by its text (before the overview image); a tiny vocabulary needs it too.
    tokenizer.add_tokens([AddedToken("\n\n", normalized=False, special=False)])
    tokenizer.chat_template = IDEFICS3_TEMPLATE
    vision = Idefics3VisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=64,
        patch_size=16,
    )
    text = tiny_llama_config(len(tokenizer), tokenizer)
    text.architectures = ["VLlama3ForCausalLM"]  # as SmolVLM's config names its language model
    config = Idefics3Config(
        vision_config=vision,
        text_config=text,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        scale_factor=2,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Idefics3ForConditionalGeneration(config).eval()
    set_generation_defaults(model, tokenizer)
    model.generation_config.eos_token_id = [
        tokenizer.eos_token_id,
        tokenizer.convert_tokens_to_ids("<end_of_utterance>"),
    ]
    image_processor = Idefics3ImageProcessor(
        size={"longest_edge": 128},
        max_image_size={"longest_edge": 64},
        do_image_splitting=True,
    )
    processor = Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=(64 // 16) ** 2 // 4,
        chat_template=IDEFICS3_TEMPLATE,
    )
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)


def biomedclip_config(embed_dim: int = 32, image_size: int = 64) -> dict[str, Any]:
    """BiomedCLIP's ``open_clip_config.json``, scaled down; the text tower keeps its hub name."""
    return {
        "model_cfg": {
            "embed_dim": embed_dim,
            "vision_cfg": {
                "timm_model_name": "test_vit",
                "timm_model_pretrained": False,
                "timm_pool": "",
                "timm_proj": "linear",
                "image_size": image_size,
            },
            "text_cfg": {
                "hf_model_name": BIOMEDCLIP_HUB_TEXT,
                "hf_tokenizer_name": BIOMEDCLIP_HUB_TEXT,
                "hf_proj_type": "mlp",
                "hf_pooler_type": "cls_last_hidden_state_pooler",
                "context_length": 64,
            },
        },
        "preprocess_cfg": {
            "mean": [0.48145466, 0.4578275, 0.40821073],
            "std": [0.26862954, 0.26130258, 0.27577711],
        },
    }


def wordpiece_vocab() -> list[str]:
    """An uncased WordPiece vocabulary: specials, characters, ``##`` characters, corpus words.

    Built by hand rather than trained: the WordPiece trainer's order is not reproducible.
    """
    pieces = re.findall(r"[a-z0-9]+|[^\sa-z0-9]", CORPUS.lower())
    chars = sorted({c for piece in pieces for c in piece})
    words = sorted({piece for piece in pieces if len(piece) > 1})
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return specials + chars + ["##" + c for c in chars if c.isalnum()] + words


def build_text_tower(out: Path) -> None:
    """Tiny uncased BERT config + vocab.txt (BiomedBERT's file layout, no weights)."""
    from transformers import BertConfig

    vocab = wordpiece_vocab()
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.txt").write_text("".join(token + "\n" for token in vocab), encoding="utf-8")
    (out / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": True, "tokenizer_class": "BertTokenizer"}, indent=2),
        encoding="utf-8",
    )
    BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=vocab.index("[PAD]"),
    ).save_pretrained(out)


def build_biomedclip(out: Path) -> None:
    """Tiny open_clip CustomTextCLIP (timm test_vit + tiny BERT) in BiomedCLIP's layout."""
    import copy

    import open_clip
    from safetensors.torch import save_file

    torch.manual_seed(SEED)
    text_dir = out / "text_tower"
    build_text_tower(text_dir)
    config = biomedclip_config()
    out.mkdir(parents=True, exist_ok=True)
    (out / "open_clip_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    model_cfg = copy.deepcopy(config["model_cfg"])
    model_cfg["text_cfg"]["hf_model_name"] = str(text_dir)
    model_cfg["text_cfg"]["hf_model_pretrained"] = False  # config only: weights are random
    model = open_clip.CustomTextCLIP(**model_cfg).eval()
    state = {key: value.contiguous() for key, value in model.state_dict().items()}
    save_file(state, str(out / "open_clip_model.safetensors"))


def folder_size(path: Path) -> int:
    """Bytes of all files under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


BUILDERS = {"llava": build_llava, "idefics3": build_idefics3, "biomedclip": build_biomedclip}
VERSION = 2  # bump when a builder changes: older folders are then rebuilt by the tests
REQUIRED = {
    "llava": ["config.json", "model.safetensors", "processor_config.json", "tokenizer.json"],
    "idefics3": ["config.json", "model.safetensors", "processor_config.json", "tokenizer.json"],
    "biomedclip": [
        "open_clip_config.json",
        "open_clip_model.safetensors",
        "text_tower/config.json",
        "text_tower/vocab.txt",
    ],
}


def is_complete(root: Path) -> bool:
    """True when ``root`` holds every tiny model, built by this VERSION of the script."""
    try:
        stamp = json.loads((root / "BUILD.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return stamp.get("version") == VERSION and all(
        (root / name / file).is_file() for name, files in REQUIRED.items() for file in files
    )


def main(argv: list[str]) -> int:
    """Build every tiny model into OUT_DIR (default models/tiny); prints what it built."""
    import shutil

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    root = Path(argv[0]) if argv else Path(__file__).resolve().parent / "tiny"
    started = time.perf_counter()
    for name, build in BUILDERS.items():
        target = root / name
        if target.exists():
            shutil.rmtree(target)
        begun = time.perf_counter()
        build(target)
        size = folder_size(target) / 1e6
        print(f"built {target} ({size:.2f} MB, {time.perf_counter() - begun:.1f} s)")
    stamp = {"version": VERSION, "seed": SEED, "models": sorted(BUILDERS)}
    (root / "BUILD.json").write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    total = folder_size(root) / 1e6
    print(f"tiny models in {root}: {total:.2f} MB, {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
