"""More decoding references from transformers for drift-core's tests: bf16 logits and the processors beyond top-p.

    v/bin/python scripts/parity/make_processor_fixtures.py drift-core/src/test/resources/parity

For tiny-qwen2 and tiny-llama (the fixtures make_model_fixtures.py wrote), on the same two prompts as
tiny-KIND-logits.safetensors, it writes tiny-KIND-processors.safetensors with
  logits_bf16        the bf16 model's logits (tiny-KIND-bf16 loaded in bf16, computed in bf16), as fp32
  top_k_ids          seeded sampling, temperature 0.8, top-k 5, top-p 1.0
  repetition_ids     seeded sampling, repetition penalty 1.3, temperature 0.7, top-p 0.9, top-k off
  greedy_repetition_ids  greedy with repetition penalty 5.0 (strong enough to change the greedy tokens)
each generate() drawing from torch's default CPU generator seeded with 1234, 8 new tokens, no eos.
"""
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM


def main(root: Path):
    for kind in ("qwen2", "llama"):
        ref = load_file(root / f"tiny-{kind}-logits.safetensors")
        ids, mask = ref["input_ids"], ref["attention_mask"]
        model = AutoModelForCausalLM.from_pretrained(root / f"tiny-{kind}", dtype=torch.float32).eval()
        bf16 = AutoModelForCausalLM.from_pretrained(root / f"tiny-{kind}-bf16", dtype=torch.bfloat16).eval()
        out = {}
        with torch.no_grad():
            out["logits_bf16"] = bf16(input_ids=ids, attention_mask=mask).logits.float().contiguous()
            runs = {"top_k_ids": dict(do_sample=True, temperature=0.8, top_k=5, top_p=1.0),
                    "repetition_ids": dict(do_sample=True, temperature=0.7, top_p=0.9, top_k=0,
                                           repetition_penalty=1.3),
                    "greedy_repetition_ids": dict(do_sample=False, repetition_penalty=5.0)}
            for name, settings in runs.items():
                torch.manual_seed(1234)
                out[name] = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8, pad_token_id=0,
                                           eos_token_id=None, **settings).contiguous()
        save_file(out, root / f"tiny-{kind}-processors.safetensors")
        print(kind, {k: tuple(v.shape) for k, v in out.items()})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
