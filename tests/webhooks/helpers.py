"""Shared pieces of the webhook tests: the verification snippet from docs/API.md."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "API.md"


def documented_verify():
    """The `verify` function of docs/API.md ("Verifying a delivery"), executed verbatim."""
    text = DOC.read_text()
    section = text.split("### Verifying a delivery", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "docs/API.md has no Python block under 'Verifying a delivery'"
    namespace: dict = {}
    exec(compile(code.group(1), str(DOC), "exec"), namespace)  # noqa: S102 - our own docs
    return namespace["verify"]
