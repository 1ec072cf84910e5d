"""Year-over-year diff of two extracted filings, item by item.

Pure functions over `section_extractor.ExtractedFiling`. Each paragraph of the newer item is
`unchanged`, `modified` (with a word-level redline), or `added`; each older paragraph left over is
`removed`. Per-item statistics rank the items by how much changed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from section_extractor import ITEM_ORDER, ExtractedFiling, ItemStatus, ItemText

MODIFIED_THRESHOLD = 0.5  # paragraphs at least this similar are one paragraph reworded


@dataclass(frozen=True)
class ParagraphChange:
    kind: str  # unchanged | modified | added | removed | moved
    old_index: int | None
    new_index: int | None
    old_text: str | None
    new_text: str | None
    similarity: float = 0.0
    redline: str | None = None

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "old_index": self.old_index,
            "new_index": self.new_index,
            "old_text": self.old_text,
            "new_text": self.new_text,
            "similarity": round(self.similarity, 4),
            "redline": self.redline,
        }


@dataclass(frozen=True)
class ItemDiffStats:
    words_added: int = 0
    words_removed: int = 0
    paragraphs_added: int = 0
    paragraphs_removed: int = 0
    paragraphs_modified: int = 0
    paragraphs_moved: int = 0
    paragraphs_unchanged: int = 0
    share_changed: float = 0.0
    change_score: float = 0.0

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class ItemDiff:
    item: str
    presence: str  # both | newer_only | older_only | neither
    older_status: str
    newer_status: str
    stats: ItemDiffStats
    changes: tuple[ParagraphChange, ...] = field(default=(), repr=False)

    @property
    def changed(self) -> bool:
        s = self.stats
        return bool(s.paragraphs_added or s.paragraphs_removed or s.paragraphs_modified or s.paragraphs_moved)

    def to_dict(self, with_changes: bool = False) -> dict:
        body = {
            "item": self.item,
            "presence": self.presence,
            "older_status": self.older_status,
            "newer_status": self.newer_status,
            "changed": self.changed,
            "stats": self.stats.to_dict(),
        }
        if with_changes:
            body["changes"] = [c.to_dict() for c in self.changes if c.kind != "unchanged"]
        return body


@dataclass(frozen=True)
class FilingDiff:
    items: dict[str, ItemDiff]

    def ranked(self) -> list[ItemDiff]:
        return sorted((d for d in self.items.values() if d.changed), key=lambda d: -d.stats.change_score)

    def to_dict(self, with_changes: bool = False) -> dict:
        return {"items": {item: self.items[item].to_dict(with_changes) for item in ITEM_ORDER if item in self.items}}


def redline(old: str, new: str) -> str:
    """Word-level redline: `[-removed-]{+added+}` inside otherwise unchanged text."""
    a, b = old.split(), new.split()
    out: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.extend(a[i1:i2])
        if tag in ("delete", "replace"):
            out.append("[-" + " ".join(a[i1:i2]) + "-]")
        if tag in ("insert", "replace"):
            out.append("{+" + " ".join(b[j1:j2]) + "+}")
    return " ".join(out)


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.split(), b.split(), autojunk=False).ratio()


def _presence(older: ItemText, newer: ItemText) -> str:
    has_old = older.status is not ItemStatus.MISSING and bool(older.paragraphs)
    has_new = newer.status is not ItemStatus.MISSING and bool(newer.paragraphs)
    return {(True, True): "both", (False, True): "newer_only", (True, False): "older_only"}.get((has_old, has_new), "neither")


def diff_item(older: ItemText, newer: ItemText) -> ItemDiff:
    old, new = list(older.paragraphs), list(newer.paragraphs)
    changes: list[ParagraphChange] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            changes.extend(ParagraphChange("unchanged", i1 + k, j1 + k, old[i1 + k], new[j1 + k], 1.0) for k in range(i2 - i1))
            continue
        pending_old = list(range(i1, i2))
        for j in range(j1, j2):
            best, best_score = None, 0.0
            for i in pending_old:
                score = _similarity(old[i], new[j])
                if score > best_score:
                    best, best_score = i, score
            if best is not None and best_score >= MODIFIED_THRESHOLD:
                pending_old.remove(best)
                changes.append(ParagraphChange("modified", best, j, old[best], new[j], best_score, redline(old[best], new[j])))
            else:
                changes.append(ParagraphChange("added", None, j, None, new[j]))
        changes.extend(ParagraphChange("removed", i, None, old[i], None) for i in pending_old)
    return ItemDiff(
        item=newer.item,
        presence=_presence(older, newer),
        older_status=older.status.value,
        newer_status=newer.status.value,
        stats=_stats(changes, older, newer),
        changes=tuple(changes),
    )


def _stats(changes: list[ParagraphChange], older: ItemText, newer: ItemText) -> ItemDiffStats:
    counts = {kind: 0 for kind in ("added", "removed", "modified", "moved", "unchanged")}
    words_added = words_removed = 0
    for change in changes:
        counts[change.kind] += 1
        if change.kind == "added":
            words_added += len(change.new_text.split())
        elif change.kind == "removed":
            words_removed += len(change.old_text.split())
        elif change.kind == "modified":
            delta = difflib.SequenceMatcher(None, change.old_text.split(), change.new_text.split(), autojunk=False)
            for tag, i1, i2, j1, j2 in delta.get_opcodes():
                if tag != "equal":
                    words_removed += i2 - i1
                    words_added += j2 - j1
    total = max(1, older.word_count + newer.word_count)
    share = min(1.0, (words_added + words_removed) / total)
    return ItemDiffStats(
        words_added=words_added,
        words_removed=words_removed,
        paragraphs_added=counts["added"],
        paragraphs_removed=counts["removed"],
        paragraphs_modified=counts["modified"],
        paragraphs_moved=counts["moved"],
        paragraphs_unchanged=counts["unchanged"],
        share_changed=share,
        change_score=(words_added + words_removed) * (0.5 + share),
    )


def diff_filings(older: ExtractedFiling, newer: ExtractedFiling) -> FilingDiff:
    return FilingDiff(items={item: diff_item(older.items[item], newer.items[item]) for item in ITEM_ORDER})
