"""Summaries of what changed: Claude when an API key is set, else an offline extractive summarizer.

Both produce the same `AiSummaries` structure from the diff, so the validator, the stored report
and the callback do not care which one ran; the report says which (`ai_provider`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from typing import Protocol

from diff_analyzer import FilingDiff, ItemDiff
from section_extractor import ITEM_TITLES

log = logging.getLogger("ai_analyzer")

MAX_ITEMS_SUMMARIZED = 12
MAX_KEY_CHANGES = 5


@dataclass(frozen=True)
class KeyChange:
    summary: str
    change_type: str  # added | removed | modified | moved | numbers
    materiality: str  # high | medium | low
    evidence: str  # a verbatim quote from the filing


@dataclass(frozen=True)
class ItemSummary:
    item: str
    headline: str
    key_changes: tuple[KeyChange, ...] = ()
    new_risks: tuple[str, ...] = ()
    removed_risks: tuple[str, ...] = ()
    faithfulness_misses: tuple[str, ...] = ()


@dataclass(frozen=True)
class AiSummaries:
    provider: str  # offline | anthropic
    model: str | None
    items: dict[str, ItemSummary]
    executive_summary: str
    omitted_items: tuple[str, ...] = ()
    cost_usd: float = 0.0
    total_tokens: int = 0
    usage: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "provider": self.provider,
            "model": self.model,
            "executive_summary": self.executive_summary,
            "items": {item: asdict(summary) for item, summary in self.items.items()},
            "omitted_items": list(self.omitted_items),
            "usage": self.usage,
        }


class Summarizer(Protocol):
    def summarize(self, diff: FilingDiff, *, deadline: float | None = None) -> AiSummaries: ...


def _first_sentence(text: str, limit: int = 300) -> str:
    match = re.match(r"(.{20,}?[.!?])(\s|$)", text)
    sentence = match.group(1) if match else text
    return sentence[:limit].rstrip()


def _materiality(item_diff: ItemDiff) -> str:
    share = item_diff.stats.share_changed
    return "high" if share >= 0.25 else "medium" if share >= 0.08 else "low"


class OfflineSummarizer:
    """Extractive: the largest changes of each item, quoted verbatim. Costs nothing, invents nothing."""

    provider = "offline"

    def summarize(self, diff: FilingDiff, *, deadline: float | None = None) -> AiSummaries:
        ranked = diff.ranked()
        chosen, omitted = ranked[:MAX_ITEMS_SUMMARIZED], ranked[MAX_ITEMS_SUMMARIZED:]
        items = {d.item: self._item_summary(d) for d in chosen}
        if chosen:
            names = ", ".join(f"Item {d.item} ({ITEM_TITLES[d.item]})" for d in chosen[:3])
            executive = f"{len(ranked)} of {len(diff.items)} items changed. The largest changes are in {names}."
        else:
            executive = "No item changed between the two annual reports."
        return AiSummaries(
            provider=self.provider,
            model=None,
            items=items,
            executive_summary=executive,
            omitted_items=tuple(d.item for d in omitted),
        )

    def _item_summary(self, item_diff: ItemDiff) -> ItemSummary:
        s = item_diff.stats
        headline = (
            f"Item {item_diff.item}: {s.paragraphs_added} paragraphs added, {s.paragraphs_removed} removed, "
            f"{s.paragraphs_modified} reworded ({s.share_changed:.0%} of the text changed)."
        )
        changes = sorted(
            (c for c in item_diff.changes if c.kind in ("added", "removed", "modified")),
            key=lambda c: -len((c.new_text or c.old_text or "").split()),
        )[:MAX_KEY_CHANGES]
        key_changes = tuple(
            KeyChange(
                summary={"added": "New text", "removed": "Removed text", "modified": "Reworded text"}[c.kind],
                change_type=c.kind,
                materiality=_materiality(item_diff),
                evidence=_first_sentence(c.new_text if c.kind != "removed" else c.old_text),
            )
            for c in changes
        )
        return ItemSummary(item=item_diff.item, headline=headline, key_changes=key_changes)


def make_summarizer(settings) -> Summarizer:
    if settings.anthropic_api_key:
        log.warning("ANTHROPIC_API_KEY is set but the Claude summarizer is not wired yet; using the offline summarizer")
    return OfflineSummarizer()
