"""The provider documentation the client tests are checked against.

The files live in tests/providers/docs/ (copies of ../shared/provider-docs, so
CI on a clean clone has them). Helpers here only load and slice them; what a
client must make of each example is written in the test modules.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

DOCS = Path(__file__).parent / "docs"


def doc_text(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


@cache
def postman_entries() -> tuple[dict, ...]:
    """The 60 operations of the SMSPool Postman collection, in collection order."""
    return tuple(json.loads(doc_text("smspool-postman-examples.json")))


def postman_examples() -> list[tuple[dict, dict]]:
    """Every (operation, recorded example) pair."""
    return [(entry, example) for entry in postman_entries() for example in entry["examples"]]


def example_id(entry: dict, example: dict) -> str:
    return f"{entry['path']} [{example['name']}]"


def json_examples(name: str) -> list[Any]:
    """Every JSON object (or list of objects) written inside a text document."""
    text, decoder, found, i = doc_text(name), json.JSONDecoder(), [], 0
    while i < len(text):
        if text[i] in "{[":
            try:
                value, end = decoder.raw_decode(text, i)
            except ValueError:
                value, end = None, i + 1
            if isinstance(value, dict) or (
                isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
            ):
                found.append(value)
                i = end
                continue
        i += 1
    return found


def response_examples(name: str) -> list[Any]:
    """The answers among a document's JSON examples (requests carry the `key`)."""
    return [v for v in json_examples(name) if not (isinstance(v, dict) and "key" in v)]


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def protocol_tokens() -> set[str]:
    """Every upper-case token the SMS-Activate protocol summary names in backticks."""
    tokens = set()
    for quoted in re.findall(r"`([^`]+)`", doc_text("sms-activate-protocol.md")):
        match = re.match(r"([A-Z][A-Z_]{2,})(?::|$)", quoted)
        if match:
            tokens.add(match.group(1))
    return tokens - {"TOKEN"}  # the placeholder in "`TOKEN` or `TOKEN:data`"
