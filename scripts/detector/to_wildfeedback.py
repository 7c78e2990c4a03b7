#!/usr/bin/env python3
"""Turns the detector's labelled dialogs (drift-examples/data/detector/*.txt) into WildFeedback sat_dsat_annotation
rows, the format `drift mine --evaluate-detector` reads: one JSON object per utterance with ConversationId,
UtterranceId, Role (User/Agent), Content, Satisfaction (true/false) and Disatisfaction (the reaction kind, a label
string the reader counts as set, or false).

    python3 scripts/detector/to_wildfeedback.py drift-examples/data/detector/dev.txt > .../dev.jsonl
"""
import json
import re
import sys

KINDS = {"repeat", "correct", "aware", "clarify"}


def rows(path):
    conversation, utterance = None, 0
    for number, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not line or line.startswith("# "):
            continue
        if line.startswith("## "):
            conversation, utterance = line[3:].strip(), 0
            continue
        m = re.match(r"^(A|U|U\+|U!(\w+)): (.*)$", line)
        if not m or conversation is None:
            sys.exit(f"{path}:{number}: expected '## id', 'A: ...', 'U: ...', 'U+: ...' or 'U!KIND: ...'")
        tag, kind, text = m.group(1), m.group(2), m.group(3).replace("\\n", "\n")
        if kind is not None and kind not in KINDS:
            sys.exit(f"{path}:{number}: unknown reaction kind {kind}; one of {sorted(KINDS)}")
        yield {"ConversationId": conversation, "UtterranceId": utterance,
               "Role": "Agent" if tag == "A" else "User", "Content": text,
               "Satisfaction": tag == "U+", "Disatisfaction": kind if kind else False}
        utterance += 1


if __name__ == "__main__":
    for row in rows(sys.argv[1]):
        print(json.dumps(row, ensure_ascii=False))
