"""Tokenizer parity fixtures: what Hugging Face tokenizers produces for the real Qwen2 tokenizer on a broad set of
strings. Outputs are committed, so CI needs no Python:

    v/bin/python scripts/parity/make_tokenizer_fixtures.py ../shared/fixtures/qwen2-tokenizer \
        drift-core/src/test/resources/parity/qwen2-tokenizer-cases.json
"""
import json
import sys
from pathlib import Path

from tokenizers import Tokenizer
from transformers import AutoTokenizer

CASES = [
    "", " ", "Hello, world!", "hello world", "  leading spaces", "trailing spaces   ", "tabs\tand\nnewlines\r\n",
    "multiple\n\n\nnewlines", "    indented code:\n        return x", "def f(x):\n\treturn x ** 2  # square",
    "Numbers: 0 7 42 1234567890 3.14159 -17 1e-5 0x1F", "2026-11-28T03:51:00Z", "$1,234.56 and 99%",
    "I'm sure you're right; they'll say we've done it, he'd agree.", "DON'T SHOUT", "Ünïcödé façade naïve café",
    "你好，世界！这是一个测试。", "日本語のテキストとカタカナ", "한국어 문장입니다", "Привет, мир", "مرحبا بالعالم",
    "emoji 😀👍🏽🇺🇸 family 👨‍👩‍👧‍👦", "math ∑_{i=1}^n x_i ≤ ∞ → ∀ε>0", "zero\u200bwidth and\u00a0nbsp",
    "combining e\u0301 vs é", "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "text with <|endoftext|> inside", "<|im_end|><|im_end|>", "not special: <|im_start |> <im_start>",
    "URL https://example.com/path?q=a&b=c#frag", "email user.name+tag@example.co.uk",
    "{\"json\": [1, 2, {\"k\": null}]}", "a" * 50, "ab " * 20, "Mixed CASE and camelCaseWords and snake_case_words",
    "The user said: that's wrong, you misread the question. Try again.",
]


def main(folder: Path, out: Path):
    raw = Tokenizer.from_file(str(folder / "tokenizer.json"))
    hf = AutoTokenizer.from_pretrained(str(folder))
    cases = []
    for text in CASES:
        ids = raw.encode(text, add_special_tokens=False).ids
        assert ids == hf.encode(text, add_special_tokens=False), text
        cases.append({"text": text, "ids": ids, "decoded": hf.decode(ids),
                      "decoded_skip_special": hf.decode(ids, skip_special_tokens=True)})
    out.write_text(json.dumps({"tokenizer": "Qwen2 (shared/fixtures/qwen2-tokenizer)", "cases": cases},
                              ensure_ascii=False, indent=1) + "\n")
    print(len(cases), "cases ->", out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
