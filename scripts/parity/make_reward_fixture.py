"""A tiny sequence-classifier reward model and its transformers scores, for drift-core's reward-model tests.

    v/bin/python scripts/parity/make_reward_fixture.py drift-core/src/test/resources/parity

Writes
  tiny-qwen2-reward/            Qwen2ForSequenceClassification (num_labels 1) over tiny-qwen2-chat's byte-level
                                tokenizer and chat template
  tiny-qwen2-reward-expected.json  conversations (prompt + response), their rendered text and ids, and the reward
                                transformers gives each when they are scored together in one right-padded batch
"""
import json
import shutil
import sys
from pathlib import Path

import torch
from transformers import AutoTokenizer, Qwen2Config, Qwen2ForSequenceClassification


def main(root: Path):
    chat = root / "tiny-qwen2-chat"
    out = root / "tiny-qwen2-reward"
    torch.manual_seed(3)
    config = Qwen2Config(vocab_size=259, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         rms_norm_eps=1e-6, bos_token_id=None, eos_token_id=258, pad_token_id=256, num_labels=1)
    model = Qwen2ForSequenceClassification(config).eval()
    with torch.no_grad():
        model.score.weight.normal_(0.0, 0.5)  # default init is small; make rewards differ visibly
    model.save_pretrained(out)
    for f in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (chat / f).exists():
            shutil.copy(chat / f, out / f)
    tok = AutoTokenizer.from_pretrained(out)
    cases = [([{"role": "user", "content": "2+2?"}], "4"),
             ([{"role": "user", "content": "2+2?"}], "It is five."),
             ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
               {"role": "user", "content": "name a colour"}], "Blue")]
    texts, ids = [], []
    for prompt, response in cases:
        messages = prompt + [{"role": "assistant", "content": response}]
        texts.append(tok.apply_chat_template(messages, tokenize=False))
        ids.append(tok.apply_chat_template(messages, tokenize=True, return_dict=False))
    width = max(len(i) for i in ids)
    batch = torch.tensor([i + [256] * (width - len(i)) for i in ids])
    mask = (batch != 256).long()
    with torch.no_grad():
        scores = model(input_ids=batch, attention_mask=mask).logits[:, 0].tolist()
    (root / "tiny-qwen2-reward-expected.json").write_text(json.dumps(
        [{"prompt": p, "response": r, "text": t, "ids": i, "score": s}
         for (p, r), t, i, s in zip(cases, texts, ids, scores)], ensure_ascii=False, indent=1) + "\n")
    print("reward model ->", out, "scores", scores)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
