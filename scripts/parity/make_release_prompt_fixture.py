"""The DRIFT release's y+ prompt and y+ cut, as RELEASE-FACTS.md documents gen-drift.py, for FeedbackPromptTest.

    /tmp/pv/bin/python scripts/parity/make_release_prompt_fixture.py ../shared/fixtures/qwen2-tokenizer \
        drift-core/src/test/resources/parity/release-prompt.json

(the venv needs only `tokenizers`). Each case has the conversation before the disliked reply, that reply, the user's
feedback and a continuation the model might write. The script builds the prompt by the documented rules, then does
what the release does with a sample: it tokenises the prompt, appends the continuation's ids (special tokens
included, as a model emits them), decodes the whole sequence with special tokens skipped, and keeps the text after
the last "Assistant: ", stripped (the whole text, stripped, when the marker is absent). It records the prompt, the
continuation as decoded alone (what drift's sampler hands over), and that y+.
"""
import json
import sys
from pathlib import Path

from tokenizers import Tokenizer

INSTRUCTION = ("Based on the user's latest feedback, please provide an improved response that addresses their "
               "concerns.")


def release_prompt(prompt, rejected, feedback):
    """RELEASE-FACTS, "Generating y+", steps 1 to 6."""
    text = ""
    system = [m for m in prompt if m["role"] == "system"]
    if system:
        text += system[0]["content"] + "\n\n"
    for m in prompt:
        if m["role"] == "system":
            continue
        label = "User" if m["role"] == "user" else "Assistant"
        text += f"{label}: {m['content']}\n"
    text += f"Assistant: {rejected}\n"
    text += f"User: {feedback}\n"
    text += f"System: {INSTRUCTION}\n"
    text += "Assistant: "
    return text


def cut(decoded):
    marker = "Assistant: "
    at = decoded.rfind(marker)
    return (decoded if at < 0 else decoded[at + len(marker):]).strip()


CASES = [
    # RELEASE-FACTS' own example.
    ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of Australia?"}],
     "Sydney.", "No, that's wrong.", "Canberra.<|im_end|>"),
    # No system message; several turns; a continuation that talks as the next turns too.
    ([{"role": "user", "content": "Give me a word for happy."},
      {"role": "assistant", "content": "Glad."},
      {"role": "user", "content": "Another one, longer?"}],
     "Joy.", "That is shorter, not longer.",
     "Jubilant.\nUser: thanks\nAssistant: You're welcome!<|endoftext|>"),
    # Two system messages (only the first is the header), multi-line content, unicode.
    ([{"role": "system", "content": "Réponds en français."}, {"role": "user", "content": "Dis bonjour\nen deux lignes."},
      {"role": "system", "content": "A second system message."}],
     "Hello\nthere.", "En français, s'il te plaît ! 🙂", "  Bonjour\nà toi.  \n"),
    # The continuation ends with the marker: y+ is what follows it, nothing.
    ([{"role": "user", "content": "Say something."}], "No.", "Be polite.", "Of course.\nAssistant: "),
    # A marker without its space is no marker.
    ([{"role": "user", "content": "Define DPO."}], "A database.", "Wrong field.",
     "Direct Preference Optimization.\nAssistant:done"),
]


def main(tokenizer_dir, out_path):
    tok = Tokenizer.from_file(str(Path(tokenizer_dir) / "tokenizer.json"))
    cases = []
    for prompt, rejected, feedback, continuation in CASES:
        text = release_prompt(prompt, rejected, feedback)
        prompt_ids = tok.encode(text, add_special_tokens=False).ids
        continuation_ids = tok.encode(continuation, add_special_tokens=False).ids
        whole = tok.decode(prompt_ids + continuation_ids, skip_special_tokens=True)
        cases.append({"prompt": prompt, "rejected": rejected, "feedback": feedback, "prompt_text": text,
                      "continuation_decoded": tok.decode(continuation_ids, skip_special_tokens=True),
                      "positive": cut(whole)})
    Path(out_path).write_text(json.dumps({"source": "RELEASE-FACTS.md, Generating y+ (gen-drift.py)",
                                          "cases": cases}, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
