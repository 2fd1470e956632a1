"""Forgiving look-up of a service or a country by what a member types.

"whats", "tele", "google voice", "gmail", "telegarm": a member types a start, a
word of a longer name, an alias providers use, or a typo, and means one thing.
Candidates are the team's pick list (its labels) and, for catalog entries that
map to a canonical service or country, every alias the catalog knows
(providers/canonical.py). Each candidate name scores by how the text meets it:

1. the whole name, punctuation and spaces ignored ("Whats App");
2. the canonical matcher (leading words of a listing: "google voice" -> Google);
3. the start of the name or of one of its words ("whats", "tele", "kingdom");
4. every word typed starts a word of the name, in any order ("states united");
5. one typo in 4-7 letters, two in more (letters swapped, missing, extra, wrong).

The best score wins when it names one thing. When it names several ("united"), or
nothing comes close, there is no match, and `suggestions` offers what was close.
"""

from __future__ import annotations

from dataclasses import dataclass

from providers.canonical import (
    COUNTRIES,
    SERVICES,
    compact,
    country_iso_for,
    normalise,
    service_slug_for,
)

# Below this many letters only an exact name or alias counts ("wa", "tg", "us").
SHORTEST_GUESS = 3

SERVICE_ALIASES = {slug: (name, *aliases) for slug, name, aliases in SERVICES}
COUNTRY_ALIASES = {iso: (name, *aliases) for iso, name, _dial, aliases in COUNTRIES}


@dataclass(frozen=True)
class Match:
    value: str  # the pick list's value: a slug, an ISO code or "u<id>"
    label: str
    score: int


def typo_distance(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap two neighbours) between `a` and `b`."""
    if a == b:
        return 0
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def typos_allowed(length: int) -> int:
    return 0 if length < 4 else 1 if length < 8 else 2


def _score(text: str, name: str) -> int:
    """How well the typed `text` (normalised) meets one candidate `name`; 0 when not."""
    typed, whole = compact(text), compact(name)
    if not typed or not whole:
        return 0
    if typed == whole:
        return 100
    if len(typed) < SHORTEST_GUESS:
        return 0
    words = normalise(name).replace("/", " ").split()
    if whole.startswith(typed):
        return 80
    if any(compact(w).startswith(typed) for w in words):
        return 70
    typed_words = text.split()
    if len(typed_words) > 1 and all(
        any(compact(w).startswith(compact(t)) for w in words) for t in typed_words if compact(t)
    ):
        return 65
    allowed = typos_allowed(len(typed))
    if allowed:
        # A typo in the whole name, or in its start as far as the member has typed.
        distance = min(typo_distance(typed, whole), typo_distance(typed, whole[: len(typed)]))
        if distance <= allowed:
            return 50 - 10 * distance
    return 0


def _canonical_key(value: str, kind: str) -> str:
    return value.lower() if kind == "service" else value.upper()


def rank(text: str, options, *, kind: str) -> list[Match]:
    """Every option the text may mean, best first (one entry per option value)."""
    text = normalise(text)
    if not text:
        return []
    aliases = SERVICE_ALIASES if kind == "service" else COUNTRY_ALIASES
    canonical = service_slug_for(name=text) if kind == "service" else country_iso_for(name=text)
    found: dict[str, Match] = {}
    for value, label, _group in options:
        key = _canonical_key(value, kind)
        # The label itself a little above its aliases: "united" is rather the United
        # States than the "United Republic of Tanzania".
        # An entry only one provider lists reads "Google Voice (SMSPool)".
        on_label = max(_score(text, label), _score(text, label.split(" (")[0]))
        best = max(
            [on_label + 2 if on_label else 0, *(_score(text, n) for n in aliases.get(key, ()))]
        )
        if canonical and key == _canonical_key(canonical, kind):
            best = max(best, 90)
        if best and (value not in found or found[value].score < best):
            found[value] = Match(value, label, best)
    return sorted(found.values(), key=lambda m: (-m.score, len(m.label), m.label))


def best(text: str, options, *, kind: str) -> Match | None:
    """The one option `text` means, or None when nothing or several things fit as well."""
    ranked = rank(text, options, kind=kind)
    if not ranked:
        return None
    top = [m for m in ranked if m.score == ranked[0].score]
    # "tele": Telegram rather than "Telegram Premium (SMSPool)", whose name starts
    # with it; "united": the States and the Kingdom alike, so neither.
    shortest = _words(top[0].label)
    if all(_words(m.label)[: len(shortest)] == shortest for m in top):
        return top[0]
    return None


def _words(label: str) -> list[str]:
    """A label's words without a "(Provider)" suffix."""
    return normalise(label.split(" (")[0]).split()


def suggestions(text: str, options, *, kind: str, limit: int = 3) -> list[str]:
    """Labels of the closest options, for a "did you mean" message."""
    return [m.label for m in rank(text, options, kind=kind)[:limit]]
