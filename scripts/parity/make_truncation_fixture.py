"""How TRL's DPO truncates, for drift's PairTokenizer truncation test.

    v/bin/python scripts/parity/make_truncation_fixture.py ../shared/fixtures/qwen2-tokenizer \
        drift-core/src/test/resources/parity/trl-dpo-truncation.json

TRL 1.13 truncates with max_length and truncation_mode "keep_start" (its default): DPOTrainer drops an example whose
prompt alone has max_length tokens or more, and DataCollatorForPreference cuts each prompt + completion sequence to
its first max_length tokens. For conversational pairs tokenised by TRL (the real Qwen2.5 tokenizer and template) and
several max_length values, this records the untruncated ids, whether TRL keeps the pair, and the prompt and
completions the collator leaves (read back from its input_ids and completion_mask).
"""
import json
import sys
from pathlib import Path

import trl
from transformers import AutoTokenizer
from trl.data_utils import _tokenize
from trl.trainer.dpo_trainer import DataCollatorForPreference

PAIRS = [
    {"prompt": [{"role": "user", "content": "What is 2+2?"}],
     "chosen": [{"role": "assistant", "content": "4, because two and two make four."}],
     "rejected": [{"role": "assistant", "content": "5"}]},
    {"prompt": [{"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "Name a colour of the sky, and say why it looks that way."}],
     "chosen": [{"role": "assistant", "content": "Blue: air scatters short wavelengths more than long ones."}],
     "rejected": [{"role": "assistant", "content": "Green, as everybody knows from looking up on a clear day."}]},
    {"prompt": [{"role": "user", "content": "Write a haiku about rain."},
                {"role": "assistant", "content": "Rain falls on the roof."},
                {"role": "user", "content": "That's not a haiku: it needs 5-7-5 syllables."}],
     "chosen": [{"role": "assistant", "content": "Soft rain on the roof\nwhispers through the sleeping town\n"
                                                  "puddles hold the sky"}],
     "rejected": [{"role": "assistant", "content": "Rain, rain, rain."}]},
]
MAX_LENGTHS = [24, 40, 56, 80, 200]


def main(tokenizer_dir: Path, out: Path):
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    examples = []
    for p in PAIRS:
        prompt = _tokenize(tok, p["prompt"], add_generation_prompt=True)["input_ids"]
        chosen = _tokenize(tok, p["prompt"] + p["chosen"])["input_ids"][len(prompt):]
        rejected = _tokenize(tok, p["prompt"] + p["rejected"])["input_ids"][len(prompt):]
        examples.append({"prompt_ids": prompt, "chosen_ids": chosen, "rejected_ids": rejected})
    cases = []
    for max_length in MAX_LENGTHS:
        collator = DataCollatorForPreference(pad_token_id=tok.pad_token_id, max_length=max_length,
                                             truncation_mode="keep_start")
        for i, e in enumerate(examples):
            case = {"pair": i, "max_length": max_length, "kept": len(e["prompt_ids"]) < max_length}
            if case["kept"]:
                batch = collator.torch_call([e])
                for row, which in ((0, "chosen"), (1, "rejected")):
                    ids = batch["input_ids"][row][batch["attention_mask"][row].bool()].tolist()
                    mask = batch["completion_mask"][row][batch["attention_mask"][row].bool()].tolist()
                    case["prompt_ids" if row == 0 else "prompt_ids_rejected"] = [t for t, m in zip(ids, mask)
                                                                                  if m == 0]
                    case[which + "_ids"] = [t for t, m in zip(ids, mask) if m == 1]
            cases.append(case)
    out.write_text(json.dumps({"trl": trl.__version__, "truncation_mode": "keep_start", "examples": examples,
                               "cases": cases}, indent=1) + "\n")
    print(out, "trl", trl.__version__, len(cases), "cases,", sum(c["kept"] for c in cases), "kept; prompt lengths",
          [len(e["prompt_ids"]) for e in examples])


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
