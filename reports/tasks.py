"""django-q2 tasks of the reports app."""

from __future__ import annotations

from reports import rollup


def rollup_costs() -> str:
    """Roll up the closed days of the last week not rolled up yet (reports.rollup)."""
    result = rollup.rollup_recent()
    return f"{result['days']} days of {result['teams']} teams, {result['skipped']} skipped"
