"""Text embeddings from transformers' Qwen2Model over the tiny chat fixture, for drift-core's TextEmbedder test.

    v/bin/python scripts/parity/make_embedding_fixture.py drift-core/src/test/resources/parity

Writes tiny-qwen2-embeddings.json: texts of different lengths, embedded together in one right-padded batch with
the attention mask, pooled two ways as embedding models read them (mean over real tokens, as sentence-transformers
does; the last real token, as gte-Qwen2 does) and scaled to unit length; once with the decoder's causal attention
and once bidirectional (every real token sees every real token, as gte-Qwen2's encoder reads text), the latter
through a 4-D boolean mask that transformers uses as given.
"""
import json
import sys
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer


def main(root: Path):
    folder = root / "tiny-qwen2-chat"
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, torch_dtype=torch.float32).eval()
    texts = ["lake", "The word is maple.", "Sure! Here is a word that starts with s: stone", "ok"]
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    width = max(len(i) for i in ids)
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    batch = torch.tensor([i + [pad] * (width - len(i)) for i in ids])
    mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i in ids])
    with torch.no_grad():
        hidden = model(input_ids=batch, attention_mask=mask).last_hidden_state
        both_ways = mask.bool()[:, None, None, :].expand(len(ids), 1, width, width)
        bidirectional = model(input_ids=batch, attention_mask=both_ways).last_hidden_state
    out = {"texts": texts, "ids": ids}
    for name, states in (("", hidden), ("_bidirectional", bidirectional)):
        mean = (states * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        last = states[torch.arange(len(ids)), mask.sum(1) - 1]
        out["mean" + name] = torch.nn.functional.normalize(mean, dim=-1).tolist()
        out["last" + name] = torch.nn.functional.normalize(last, dim=-1).tolist()
    (root / "tiny-qwen2-embeddings.json").write_text(json.dumps(out) + "\n")
    print("embeddings of", len(texts), "texts ->", root / "tiny-qwen2-embeddings.json")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
