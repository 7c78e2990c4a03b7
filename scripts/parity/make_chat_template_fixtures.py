"""Chat-template parity fixtures: what transformers' apply_chat_template (jinja2 with Hugging Face's settings)
renders for the Qwen2 and Qwen2.5 templates. Outputs are committed, so CI needs no Python:

    v/bin/python scripts/parity/make_chat_template_fixtures.py ../shared/fixtures/qwen2-tokenizer \
        drift-core/src/test/resources/parity/chat-template-cases.json
"""
import json
import sys
from pathlib import Path

from transformers import AutoTokenizer

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Current weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"},
                          "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}

CONVERSATIONS = {
    "single user": [{"role": "user", "content": "What is 2+2?"}],
    "system and user": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}],
    "multi turn with dissatisfaction": [
        {"role": "user", "content": "Summarise the plot of Hamlet in one sentence."},
        {"role": "assistant", "content": "Hamlet is a comedy about a Danish prince who marries Ophelia."},
        {"role": "user", "content": "That's wrong: it is a tragedy and he never marries her. Try again."}],
    "template syntax inside content": [
        {"role": "user", "content": "Explain {{ messages }} and {% if x %} in Jinja, and {# comments #}."}],
    "whitespace and unicode": [
        {"role": "user", "content": "  leading and trailing  \n\n"},
        {"role": "assistant", "content": "\tTabbed reply with émojis 😀 and 中文\n"},
        {"role": "user", "content": ""}],
    "system mid conversation": [
        {"role": "user", "content": "a"}, {"role": "system", "content": "late system"},
        {"role": "user", "content": "b"}],
}

TOOL_CONVERSATION = [
    {"role": "system", "content": "You can call tools."},
    {"role": "user", "content": "Weather in Zürich?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius"}}}]},
    {"role": "tool", "content": "{\"temperature\": 3.5, \"sky\": \"clear\"}"},
    {"role": "tool", "content": "second result"},
    {"role": "assistant", "content": "It is 3.5 °C and clear."}]


def main(folder: Path, out: Path):
    tok = AutoTokenizer.from_pretrained(str(folder))
    templates = {"qwen2": json.loads((folder / "tokenizer_config.json").read_text())["chat_template"],
                 "qwen2.5": (folder / "qwen2.5-instruct-chat-template.jinja").read_text()}
    cases = []
    for template_name, template in templates.items():
        for name, messages in CONVERSATIONS.items():
            for gen in (False, True):
                text = tok.apply_chat_template(messages, chat_template=template, tokenize=False,
                                               add_generation_prompt=gen)
                cases.append({"template": template_name, "name": name, "messages": messages,
                              "add_generation_prompt": gen, "expected": text})
    for gen in (False, True):
        text = tok.apply_chat_template(TOOL_CONVERSATION, chat_template=templates["qwen2.5"], tools=[WEATHER],
                                       tokenize=False, add_generation_prompt=gen)
        cases.append({"template": "qwen2.5", "name": "tools", "messages": TOOL_CONVERSATION, "tools": [WEATHER],
                      "add_generation_prompt": gen, "expected": text})
    out.write_text(json.dumps({"cases": cases}, ensure_ascii=False, indent=1) + "\n")
    print(len(cases), "cases ->", out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
