"""Training: QLoRA / LoRA SFT and GRPO with KG-path rewards (TRL + peft), memory preflight,
per-step metrics in the workspace database, adapter merging.

Heavy libraries (torch, transformers, TRL, peft) are imported inside the functions that use them.
"""

import logging

# bitsandbytes announces at import that an optional CPU kernel package is missing; MedSynth never
# installs that package (it would fetch kernels from the hub), so the notice is noise.
logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
