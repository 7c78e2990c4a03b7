"""Model parity fixtures for drift-core's tests, generated with Hugging Face transformers.

Run once when the fixtures change; the outputs are committed, so CI needs no Python:

    python3 -m venv v && v/bin/pip install torch==2.13.0 transformers safetensors
    v/bin/python scripts/parity/make_model_fixtures.py drift-core/src/test/resources/parity [QWEN2_TOKENIZER_DIR]

For each tiny, randomly initialised model (Qwen2 with tied embeddings and q/k/v biases; Llama with llama3 rope
scaling and an untied lm-head) it writes
  tiny-KIND/           save_pretrained, fp32, one model.safetensors
  tiny-KIND-bf16/      the same weights cast to bf16
  tiny-KIND-sharded/   fp32 in several shards with model.safetensors.index.json
  tiny-KIND-expected.json        every tensor's dtype, shape, fp64 sum and first values, per folder
  tiny-KIND-logits.safetensors   input_ids, attention_mask, fp32 logits, greedy and seeded-sampled continuations
and a chat model whose vocabulary a tokenizer covers, for end-to-end tests of messages in, text out:
  tiny-qwen2-chat/     Qwen2 with 259 tokens: the 256 byte-level symbols and <|endoftext|>, <|im_start|>, <|im_end|>;
                       tokenizer.json + tokenizer_config.json with Qwen2's chat template
  tiny-qwen2-chat-expected.json  a conversation, its rendered prompt, ids, and transformers' greedy continuation
"""
import copy
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

COMMON = dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6, bos_token_id=1,
              eos_token_id=2, pad_token_id=0)


def tiny(kind):
    if kind == "qwen2":
        return Qwen2ForCausalLM(Qwen2Config(**COMMON, rope_theta=1000000.0, tie_word_embeddings=True))
    if kind == "llama":
        scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 64}
        return LlamaForCausalLM(LlamaConfig(**COMMON, rope_theta=500000.0, rope_scaling=scaling,
                                            tie_word_embeddings=False))
    raise ValueError(kind)


def summary(folder: Path) -> dict:
    tensors = {}
    for f in sorted(folder.glob("*.safetensors")):
        for name, t in load_file(f).items():
            tensors[name] = {"file": f.name, "dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                             "sum": t.double().sum().item(), "first": t.double().flatten()[:4].tolist()}
    return dict(sorted(tensors.items()))


def main(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    for kind in ("qwen2", "llama"):
        torch.manual_seed(0)
        model = tiny(kind).eval()
        # Default init leaves biases at zero; give them values so a misplaced bias shows in the parity checks.
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith(".bias"):
                    p.normal_(0.0, 0.02)
        folders = {"": root / f"tiny-{kind}", "-sharded": root / f"tiny-{kind}-sharded",
                   "-bf16": root / f"tiny-{kind}-bf16"}
        model.save_pretrained(folders[""])
        model.save_pretrained(folders["-sharded"], max_shard_size="60KB")
        # A copy: casting the model itself to bf16 and back would round the weights the references come from.
        copy.deepcopy(model).to(torch.bfloat16).save_pretrained(folders["-bf16"])
        expected = {suffix or "fp32": summary(path) for suffix, path in folders.items()}
        (root / f"tiny-{kind}-expected.json").write_text(json.dumps(expected, indent=1) + "\n")

        # Two prompts, the second left-padded as a batched sampler pads, for decoder and generation parity.
        input_ids = torch.tensor([[1, 17, 42, 99, 7, 200, 33, 5, 128, 64, 12, 250],
                                  [0, 0, 0, 0, 1, 9, 80, 160, 31, 77, 3, 190]])
        attention_mask = (input_ids != 0).long()
        attention_mask[0, 0] = 1
        with torch.no_grad():
            logits = model(input_ids=input_ids, attention_mask=attention_mask).logits.float()
            greedy = model.generate(input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=8,
                                    do_sample=False, pad_token_id=0, eos_token_id=None)
            # Seeded sampling: torch's default CPU generator, seeded here, draws one multinomial per step.
            torch.manual_seed(1234)
            sampled = model.generate(input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=8,
                                     do_sample=True, temperature=0.7, top_p=0.9, top_k=0, pad_token_id=0,
                                     eos_token_id=None)
        save_file({"input_ids": input_ids, "attention_mask": attention_mask, "logits": logits.contiguous(),
                   "greedy_ids": greedy.contiguous(), "sampled_ids": sampled.contiguous()},
                  root / f"tiny-{kind}-logits.safetensors")
        print(kind, "params", sum(p.numel() for p in model.parameters()), "->", folders[""])


def chat_model(root: Path, qwen2_tokenizer: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    out = root / "tiny-qwen2-chat"
    byte_symbols = pre_tokenizers.ByteLevel.alphabet()
    vocab = {sym: i for i, sym in enumerate(sorted(byte_symbols))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    template = json.loads((qwen2_tokenizer / "tokenizer_config.json").read_text())["chat_template"]
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   chat_template=template)
    fast.save_pretrained(out)
    torch.manual_seed(1)
    model = Qwen2ForCausalLM(Qwen2Config(**{**COMMON, "vocab_size": 259, "bos_token_id": None,
                                            "eos_token_id": 258, "pad_token_id": 256}, tie_word_embeddings=True))
    model.eval().save_pretrained(out)
    reloaded = AutoTokenizer.from_pretrained(out)
    messages = [{"role": "user", "content": "Hi! Say {{ hello }}."}]
    prompt = reloaded.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = reloaded.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, return_dict=False)
    with torch.no_grad():
        greedy = model.generate(input_ids=torch.tensor([ids]), max_new_tokens=12, do_sample=False,
                                eos_token_id=258, pad_token_id=256)[0, len(ids):].tolist()
    (root / "tiny-qwen2-chat-expected.json").write_text(json.dumps(
        {"messages": messages, "prompt": prompt, "prompt_ids": ids, "greedy_ids": greedy,
         "greedy_text": reloaded.decode(greedy, skip_special_tokens=True)}, ensure_ascii=False, indent=1) + "\n")
    print("chat model ->", out, "prompt tokens", len(ids))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
    chat_model(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else Path("../shared/fixtures/qwen2-tokenizer"))
