"""How TRL's DPOTrainer tokenises conversational pairs, for drift's PairTokenizer parity test.

    v/bin/python scripts/parity/make_dpo_tokenization_fixture.py ../shared/fixtures/qwen2-tokenizer \
        drift-core/src/test/resources/parity/trl-dpo-tokenization.json

Runs the steps of TRL 1.13's DPOTrainer._prepare_dataset tokenize_fn on conversational pairs with the real Qwen2.5
tokenizer and chat template: prompt ids from apply_chat_template(prompt, add_generation_prompt=True), completion ids
as the tail of apply_chat_template(prompt + completion) after the prompt's ids.
"""
import json
import sys
from pathlib import Path

import trl
from transformers import AutoTokenizer
from trl.data_utils import _tokenize

PAIRS = [
    {"prompt": [{"role": "user", "content": "What is 2+2?"}],
     "chosen": [{"role": "assistant", "content": "4"}],
     "rejected": [{"role": "assistant", "content": "5"}]},
    {"prompt": [{"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "Name a colour of the sky."}],
     "chosen": [{"role": "assistant", "content": "Blue."}],
     "rejected": [{"role": "assistant", "content": "The sky, as it happens, is usually green."}]},
    {"prompt": [{"role": "user", "content": "Write a haiku about rain."},
                {"role": "assistant", "content": "Rain falls on the roof."},
                {"role": "user", "content": "That's not a haiku: it needs 5-7-5 syllables."}],
     "chosen": [{"role": "assistant", "content": "Soft rain on the roof\nwhispers through the sleeping town\n"
                                                  "puddles hold the sky"}],
     "rejected": [{"role": "assistant", "content": "Rain, rain, rain."}]},
    {"prompt": [{"role": "user", "content": "Traduis « bonjour » en japonais 🙂"}],
     "chosen": [{"role": "assistant", "content": "こんにちは (konnichiwa)"}],
     "rejected": [{"role": "assistant", "content": "  Hello  "}]},
]


def main(tokenizer_dir: Path, out: Path):
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    cases = []
    for example in PAIRS:
        prompt_ids = _tokenize(tok, example["prompt"], add_generation_prompt=True)["input_ids"]
        chosen_all = _tokenize(tok, example["prompt"] + example["chosen"])["input_ids"]
        rejected_all = _tokenize(tok, example["prompt"] + example["rejected"])["input_ids"]
        assert chosen_all[: len(prompt_ids)] == prompt_ids and rejected_all[: len(prompt_ids)] == prompt_ids
        cases.append({**example, "prompt_ids": prompt_ids, "chosen_ids": chosen_all[len(prompt_ids):],
                      "rejected_ids": rejected_all[len(prompt_ids):]})
    out.write_text(json.dumps({"trl": trl.__version__, "cases": cases}, ensure_ascii=False, indent=1) + "\n")
    print(out, "trl", trl.__version__, len(cases), "pairs")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
