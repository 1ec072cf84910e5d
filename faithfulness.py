"""Is a summary faithful to the filing? Every evidence quote must be in the item's text, every number
in it (or in what the model was shown besides it).

Shared by the summarizer (which re-asks a larger model when a small one strays) and the validator
(which checks again, whatever the summarizer recorded). Each item's text is rebuilt from the diff
and normalised once per report (`Sources`): normalising a long item is the costly part, and both
stages look in the same text. Pure functions over the diff; no provider's code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from diff_analyzer import FilingDiff, ItemDiff

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u00a0": " "})
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
_MARKS = re.compile(r"\[-|-\]|\{\+|\+\}")
_SPACES = re.compile(r"\s+")


def normalize_for_match(text: str) -> str:
    text = _MARKS.sub("", text.translate(_QUOTES))
    return _SPACES.sub(" ", text).strip().lower()


def numbers_in(text: str) -> set[str]:
    """Numbers written in `text`, without thousands separators or trailing zeros after a point."""
    found = set()
    for token in _NUMBER.findall(text.translate(_QUOTES)):
        token = token.replace(",", "").rstrip(".")
        if "." in token:
            token = token.rstrip("0").rstrip(".")
        found.add(token)
    return found


def item_source_text(item_diff: ItemDiff) -> str:
    """Both years' text of the item, rebuilt from the diff (unchanged paragraphs included)."""
    old = [c.old_text for c in sorted((c for c in item_diff.changes if c.old_text is not None), key=lambda c: c.old_index or 0)]
    new = [c.new_text for c in sorted((c for c in item_diff.changes if c.new_text is not None), key=lambda c: c.new_index or 0)]
    return "\n".join(new) + "\n" + "\n".join(old)


@dataclass(frozen=True)
class Source:
    """One item's text, normalised, and the numbers it writes."""

    text: str
    numbers: frozenset[str]

    @classmethod
    def of(cls, text: str) -> "Source":
        return cls(normalize_for_match(text), frozenset(numbers_in(text)))


@dataclass
class Sources:
    """Each item's `Source`, built on first use and kept for the report."""

    diff: FilingDiff
    _built: dict[str, Source] = field(default_factory=dict)

    def of(self, item: str) -> Source:
        found = self._built.get(item)
        if found is None:
            item_diff = self.diff.items.get(item)
            found = self._built[item] = Source.of(item_source_text(item_diff) if item_diff is not None else "")
        return found


def check(summary, source: Source, shown_text: str = "") -> tuple[str, ...]:
    """Evidence quotes not found in the source, and numbers neither the source nor the rest of what
    the model was shown (`shown_text`) contains."""
    misses = []
    for change in summary.key_changes:
        quote = normalize_for_match(change.evidence).strip(" .\"'…")
        if not quote:
            misses.append(f"evidence quotes nothing: {change.evidence[:120]!r}")
        elif quote not in source.text:
            misses.append(f"evidence not found in the filing: {change.evidence[:120]!r}")
    written = " ".join([summary.headline, *(c.summary for c in summary.key_changes), *summary.new_risks, *summary.removed_risks])
    allowed = source.numbers | numbers_in(shown_text) if shown_text else source.numbers
    for number in sorted(numbers_in(written) - allowed):
        misses.append(f"number not in the filing: {number}")
    return tuple(misses)


def check_faithfulness(summary, source_text: str, shown_text: str = "") -> tuple[str, ...]:
    """`check` against a text not yet normalised (one-off callers and tests)."""
    return check(summary, Source.of(source_text), shown_text)


def unsupported_numbers(text: str, sources: str) -> tuple[str, ...]:
    return tuple(f"number not in the filing: {n}" for n in sorted(numbers_in(text) - numbers_in(sources)))
