#!/usr/bin/env python3
"""A load generator for OpenAI-compatible chat servers: N concurrent streaming chats at once, each with a prompt of
exactly P tokens after the chat template (counted with the model's own tokenizer) and R reply tokens, greedy.

For each concurrency it prints one line:
  SERVE label=L concurrency=N tokens=T wall_s=S tok_s=X ttft_p50_ms=.. ttft_p95_ms=.. itl_p50_ms=.. itl_p95_ms=..
tok_s is every reply token over the wall time from the first request sent to the last reply ended; time to first
token is to the first chunk carrying text; inter-token latency is the gap between consecutive text chunks (one token
each on both servers measured here). Tokens are the usage's completion_tokens where the server reports it.

Usage: chat_load.py --base-url URL --model NAME --tokenizer DIR [--concurrency 1 8 32] [--prompt-tokens 128]
                    [--max-tokens 128] [--label L] [--ignore-eos]
"""
import argparse
import asyncio
import statistics
import time

from openai import AsyncOpenAI
from transformers import AutoTokenizer


def prompt_of(tokenizer, tokens, salt):
    """A user message whose templated prompt is `tokens` long (words added one at a time until it is)."""
    words = []
    while True:
        messages = [{"role": "user", "content": f"{salt}: " + " ".join(words)}]
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        n = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        if n >= tokens:
            return messages, n
        words.append("hello")  # one token each, with its space


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def one(client, model, messages, max_tokens, extra):
    sent = time.perf_counter()
    first, last, gaps, chunks, usage = None, None, [], 0, None
    stream = await client.chat.completions.create(
        model=model, messages=messages, max_tokens=max_tokens, temperature=0, stream=True,
        stream_options={"include_usage": True}, extra_body=extra)
    async for chunk in stream:
        if getattr(chunk, "usage", None):
            usage = chunk.usage.completion_tokens
        for choice in chunk.choices:
            if choice.delta and choice.delta.content:
                now = time.perf_counter()
                if first is None:
                    first = now
                else:
                    gaps.append(now - last)
                last = now
                chunks += 1
    return {"ttft": (first or time.perf_counter()) - sent, "gaps": gaps, "tokens": usage or chunks,
            "end": time.perf_counter()}


async def level(client, args, n, extra, tokenizer):
    prompts = [prompt_of(tokenizer, args.prompt_tokens, f"request {i}")[0] for i in range(n)]
    start = time.perf_counter()
    results = await asyncio.gather(*[one(client, args.model, p, args.max_tokens, extra) for p in prompts])
    wall = max(r["end"] for r in results) - start
    tokens = sum(r["tokens"] for r in results)
    ttfts = [r["ttft"] * 1000 for r in results]
    gaps = [g * 1000 for r in results for g in r["gaps"]]
    print(f"SERVE label={args.label} concurrency={n} tokens={tokens} wall_s={wall:.2f} tok_s={tokens / wall:.1f} "
          f"ttft_p50_ms={pct(ttfts, 0.5):.0f} ttft_p95_ms={pct(ttfts, 0.95):.0f} "
          f"itl_p50_ms={pct(gaps, 0.5):.1f} itl_p95_ms={pct(gaps, 0.95):.1f}", flush=True)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--label", default="server")
    ap.add_argument("--ignore-eos", action="store_true")
    args = ap.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    messages, n = prompt_of(tokenizer, args.prompt_tokens, "probe")
    print(f"# prompts of {n} tokens after the chat template", flush=True)
    extra = {"ignore_eos": True} if args.ignore_eos else None
    client = AsyncOpenAI(base_url=args.base_url, api_key="bench", timeout=3600, max_retries=0)
    await one(client, args.model, messages, 4, extra)  # warm-up, untimed
    for c in args.concurrency:
        await level(client, args, c, extra, tokenizer)


if __name__ == "__main__":
    asyncio.run(main())
