"""Broken reports made from real ones: what a faulty extraction or summarizer would produce.

Used by tests/test_validator_corpus.py and bench/bench_validator.py; every mutant must get a blocking
issue from the quality validator.
"""

from __future__ import annotations

from dataclasses import replace

from ai_analyzer import KeyChange
from form_10k import ITEM_ORDER, ITEM_TITLES
from section_extractor import ExtractedFiling, ItemStatus, ItemText


def _set(filing: ExtractedFiling, **items: ItemText) -> ExtractedFiling:
    return replace(filing, items={**filing.items, **items})


def truncate(filing, item):
    text = filing.items[item]
    keep = max(1, len(text.paragraphs) // 10)
    words = text.paragraphs[:keep]
    if sum(len(p.split()) for p in words) > text.word_count * 0.15:  # one huge paragraph: cut its words
        words = (" ".join(" ".join(text.paragraphs).split()[: text.word_count // 10]),)
    return _set(filing, **{item: replace(text, paragraphs=tuple(words), heading_indices=())})


def remove(filing, item):
    return _set(filing, **{item: ItemText(item=item, status=ItemStatus.MISSING)})


def paste_toc(filing, item):
    rows = [f"Item {i}. {ITEM_TITLES[i]} | {3 + 7 * n}" for n, i in enumerate(ITEM_ORDER)]
    rows = ["PART I"] + rows[:7] + ["PART II"] + rows[7:16] + ["PART III"] + rows[16:21] + ["PART IV"] + rows[21:]
    return _set(filing, **{item: replace(filing.items[item], paragraphs=tuple(rows), heading_indices=(), table_only=True)})


def swap(filing, a, b):
    ta, tb = filing.items[a], filing.items[b]
    return _set(filing, **{a: replace(tb, item=a, title=ta.title), b: replace(ta, item=b, title=tb.title)})


def swallow(filing, item, neighbours):
    text = filing.items[item]
    paragraphs = list(text.paragraphs)
    changes = {}
    for other in neighbours:
        o = filing.items[other]
        if o.status is ItemStatus.MISSING:
            continue
        paragraphs.append(f"Item {other}. {o.title or ITEM_TITLES[other]}")
        paragraphs.extend(o.paragraphs)
        changes[other] = ItemText(item=other, status=ItemStatus.MISSING)
    return _set(filing, **{item: replace(text, paragraphs=tuple(paragraphs), end=None)}, **changes)


def empty_summaries(summaries):
    return replace(summaries, items={})


def alter_evidence(summaries):
    for item, summary in summaries.items.items():
        if summary.key_changes:
            first = summary.key_changes[0]
            words = first.evidence.split()
            words[len(words) // 2] = "never" if words[len(words) // 2].lower() != "never" else "always"
            changed = KeyChange(first.summary, first.change_type, first.materiality, " ".join(words))
            return replace(summaries, items={**summaries.items, item: replace(summary, key_changes=(changed,) + summary.key_changes[1:])})
    return summaries
