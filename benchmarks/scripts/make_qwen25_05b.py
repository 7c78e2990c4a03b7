#!/usr/bin/env python3
"""Qwen2.5-0.5B's geometry with random weights, written by transformers (nothing is downloaded).

hidden 896, intermediate 4864, 24 layers, 14 query and 2 KV heads (head dim 64), vocab 151,936, tied embeddings,
rope theta 1e6, as in Qwen/Qwen2.5-0.5B's config.json (494M parameters). Token ids 0/1/2 are pad/bos/eos, as in
shared/bench's synthetic pairs. Saved in fp32 (about 2 GB).

Usage: python make_qwen25_05b.py OUT_DIR [--seed 0]
"""
import argparse

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cfg = Qwen2Config(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, hidden_act="silu", max_position_embeddings=32768,
        rms_norm_eps=1e-6, tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
        use_sliding_window=False, attention_dropout=0.0, pad_token_id=0, bos_token_id=1, eos_token_id=2,
        dtype="float32")
    torch.manual_seed(args.seed)
    model = Qwen2ForCausalLM(cfg).to(torch.float32)
    model.save_pretrained(args.out_dir, safe_serialization=True)
    print(f"{args.out_dir}: {sum(p.numel() for p in model.parameters()):,} parameters")


if __name__ == "__main__":
    main()
