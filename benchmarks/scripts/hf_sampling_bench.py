#!/usr/bin/env python3
"""transformers' generate with DRIFT's positive-sampling settings (do_sample, temperature 0.7, top-p 0.9), timed as
drift's SamplingBench: B random prompts of P tokens, N new tokens each (min_new_tokens = N, so none stops early), one
untimed 4-token warm-up first. Last line: HF_SAMPLE batch=B tokens_per_s=... seconds=... peak_rss_mb=...

Usage: python hf_sampling_bench.py MODEL_DIR [--batch 8] [--prompt-len 64] [--new-tokens 128] [--bf16] [--threads 2]
"""
import argparse
import resource
import time

import torch
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--prompt-len", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = AutoModelForCausalLM.from_pretrained(args.model_dir,
                                                 dtype=torch.bfloat16 if args.bf16 else torch.float32)
    model.eval()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(4, model.config.vocab_size, (args.batch, args.prompt_len), generator=g)
    mask = torch.ones_like(ids)
    common = dict(attention_mask=mask, do_sample=True, temperature=0.7, top_p=0.9, top_k=0, pad_token_id=0,
                  use_cache=True)
    with torch.no_grad():
        model.generate(ids, max_new_tokens=4, min_new_tokens=4, **common)
        t0 = time.perf_counter()
        out = model.generate(ids, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, **common)
        seconds = time.perf_counter() - t0
    tokens = (out.shape[1] - args.prompt_len) * args.batch
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"HF_SAMPLE batch={args.batch} tokens_per_s={tokens / seconds:.1f} seconds={seconds:.2f} "
          f"new_tokens={tokens} peak_rss_mb={peak:.0f}")


if __name__ == "__main__":
    main()
