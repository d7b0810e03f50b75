"""Asks an LLM to review a Python file: what is wrong, and the corrected line.

A plain OpenAI app with no telemetry code at all: it is the drop-in example. Run under
``opentelemetry-instrument`` with agent-otel installed and ``AGENT_OTEL_AUTO_SESSION=1``, the
whole run becomes one agent session whose two LLM calls (one of them streamed) are recorded
with their tokens and cost; see README.md beside this file.

The client reads ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` from the environment as usual, so
the same command works against api.openai.com or any OpenAI-compatible server, such as the
loopback stand-in ``examples/llm_server.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import openai
from openai.types.chat import ChatCompletionMessageParam

DEFAULT_FILE = Path(__file__).with_name("calc.py")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--model", default=os.environ.get("REVIEW_MODEL", "gpt-4o-mini"))
    args = parser.parse_args(argv)
    source = args.file.read_text(encoding="utf-8")

    client = openai.OpenAI()
    conversation: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "You review Python code. Be brief."},
        {"role": "user", "content": f"Find the bug and plan the fix.\n\n{source}"},
    ]
    review = client.chat.completions.create(model=args.model, messages=conversation)
    plan = review.choices[0].message.content or ""
    print(plan)

    conversation += [
        {"role": "assistant", "content": plan},
        {"role": "user", "content": "Write the corrected line only."},
    ]
    print("corrected line:", end=" ")
    stream = client.chat.completions.create(model=args.model, messages=conversation, stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            print(chunk.choices[0].delta.content, end="", flush=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
