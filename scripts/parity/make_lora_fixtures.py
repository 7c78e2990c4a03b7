"""LoRA adapters made by PEFT on the tiny Qwen2 model, and the logits transformers + PEFT compute with them, for
drift-core's LoRA parity tests. With --check DIR, also loads an adapter drift wrote into PEFT and prints the largest
logit difference against drift's own logits for it (the round trip the other way).

    v/bin/pip install --index-url file:///opt/pypi/simple peft
    v/bin/python scripts/parity/make_lora_fixtures.py drift-core/src/test/resources/parity
    v/bin/python scripts/parity/make_lora_fixtures.py drift-core/src/test/resources/parity --check /tmp/drift-lora

Writes, beside tiny-qwen2/ (made by make_model_fixtures.py):
  tiny-qwen2-lora/            PEFT adapter: r 4, lora_alpha 8, target_modules all-linear (B drawn, not zero, so the
                              adapter changes the logits)
  tiny-qwen2-lora-rs/         PEFT adapter: r 2, lora_alpha 4, use_rslora, q_proj and v_proj only
  tiny-qwen2-lora-logits.safetensors   input_ids, attention_mask (tiny-qwen2-logits' batch, one row left-padded),
                              logits with each adapter (fp32), and the base logits with the adapter disabled
"""
import argparse
import json
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM


def adapter(base_dir: Path, out: Path, seed: int, **lora):
    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32).eval()
    model = get_peft_model(base, LoraConfig(task_type="CAUSAL_LM", lora_dropout=0.0, **lora))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.2)  # PEFT starts B at zero: the adapter would not show in the logits
    model.peft_config["default"].base_model_name_or_path = "tiny-qwen2"  # not this machine's path
    model.save_pretrained(out)
    (out / "README.md").unlink()  # PEFT's model card template: not part of the format
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("--check", type=Path, help="an adapter folder drift wrote, with drift-logits.safetensors in it")
    args = ap.parse_args()
    root = args.root
    batch = load_file(root / "tiny-qwen2-logits.safetensors")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    if args.check:
        base = AutoModelForCausalLM.from_pretrained(root / "tiny-qwen2", dtype=torch.float32).eval()
        model = PeftModel.from_pretrained(base, args.check).eval()
        drift = load_file(args.check / "drift-logits.safetensors")["logits"]
        with torch.no_grad():
            peft_logits = model(input_ids=ids, attention_mask=mask).logits
        real = mask.bool().unsqueeze(-1)
        print("drift's adapter in PEFT: max |logit difference| at real tokens",
              float(((peft_logits - drift).abs() * real).max()))
        return
    out = {"input_ids": ids, "attention_mask": mask}
    for suffix, seed, lora in (("", 5, dict(r=4, lora_alpha=8, target_modules="all-linear")),
                               ("-rs", 6, dict(r=2, lora_alpha=4, use_rslora=True,
                                               target_modules=["q_proj", "v_proj"]))):
        folder = root / f"tiny-qwen2-lora{suffix}"
        model = adapter(root / "tiny-qwen2", folder, seed, **lora).eval()
        with torch.no_grad():
            out[f"logits{suffix}"] = model(input_ids=ids, attention_mask=mask).logits.float().contiguous()
            with model.disable_adapter():
                out[f"base_logits{suffix}"] = model(input_ids=ids, attention_mask=mask).logits.float().contiguous()
        # Loading it back through PEFT gives the same logits: the folder is what PEFT reads.
        reloaded = PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(root / "tiny-qwen2", dtype=torch.float32), folder).eval()
        with torch.no_grad():
            again = reloaded(input_ids=ids, attention_mask=mask).logits
        print(folder.name, json.loads((folder / "adapter_config.json").read_text())["target_modules"],
              "keys", len(load_file(folder / "adapter_model.safetensors")),
              "reload max diff", float((again - out[f"logits{suffix}"]).abs().max()),
              "adapter effect", float((out[f"logits{suffix}"] - out[f"base_logits{suffix}"]).abs().max()))
    save_file(out, root / "tiny-qwen2-lora-logits.safetensors")


if __name__ == "__main__":
    main()
