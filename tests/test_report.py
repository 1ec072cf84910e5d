"""The report object's size: the stored JSON stays within 300 KB (issue 14), the long tail compacted
first, what a reader sees first kept."""

from __future__ import annotations

import json

import report


def oversized() -> dict:
    changes = [{"old_text": f"${n}", "new_text": f"${n + 1}", "context": "x" * 400} for n in range(25)]
    return {
        "key_figures": {"metrics": {"revenue": {"label": "Revenue"}}},
        "highlights": [{"id": f"h{n}", "headline": f"Change {n}.", "redline": "{+" + "word " * 600 + "+}"} for n in range(1, 61)],
        "diff": {"items": {item: {"number_changes": list(changes)} for item in ("1", "1A", "7", "8", "15")}},
        "ai_summaries": {"executive_summary": "Revenue rose."},
        "compacted": [],
    }


def test_a_report_within_the_limit_is_left_as_it_is():
    small = {"highlights": [{"id": "h1", "redline": "{+a+}"}], "diff": {"items": {}}, "compacted": []}
    assert report.within_size(json.loads(json.dumps(small))) == small


def test_an_oversized_report_loses_its_long_tail_first():
    big = oversized()
    assert len(json.dumps(big)) > 200_000
    fitted = report.within_size(big, max_bytes=150_000)
    assert len(json.dumps(fitted).encode()) <= 150_000
    assert fitted["compacted"][:2] == ["diff number changes: 10 per item", "highlights after the first 20: no redline"]
    assert all(h["redline"] for h in fitted["highlights"][:20]) and len(fitted["highlights"]) == 60
    assert all(h["redline"] is None for h in fitted["highlights"][20:])
    assert fitted["key_figures"] == oversized()["key_figures"] and fitted["ai_summaries"] == oversized()["ai_summaries"]


def test_every_step_is_taken_when_nothing_else_fits():
    fitted = report.within_size(oversized(), max_bytes=20_000)
    assert len(fitted["compacted"]) == 4 and len(fitted["highlights"]) == 30
    assert all(len(item["number_changes"]) == 3 for item in fitted["diff"]["items"].values())
