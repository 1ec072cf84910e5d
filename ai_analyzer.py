"""Summaries of what changed: Claude when an API key is set, else an offline extractive summarizer.

Both produce the same `AiSummaries` from the diff, so the validator, the stored report and the
callback do not care which ran; the report says which (`ai_provider`).

The Claude path, in order:
1. `plan_requests` (pure) ranks the changed items, builds one prompt per item from the diff —
   changed paragraphs with their redlines, new and removed risk factors, number changes, a little
   unchanged context — and fits them into the per-item and per-report input budgets; what does not
   fit is listed in `omitted_items`.
2. The item requests and one executive-summary request (built from the same diff) run
   concurrently under AI_MAX_CONCURRENCY, so a report takes about as long as its slowest call.
   Each uses structured output (`output_config.format` = JSON schema), a shared system prompt
   marked for prompt caching, no sampling parameters, and low effort (thinking is billed as output).
3. Invalid or truncated output is retried once with a repair prompt, then recorded as a failure —
   never raised. 429/529/5xx and network errors are retried by our own loop (the SDK's retries are
   off) so that a server's `retry-after` is honoured but capped, and no wait outlives the job.
4. `check_faithfulness` (pure) looks up every evidence quote in the item's text and every number
   of a summary in the item's text; misses are recorded for the validator.
5. Each response's `usage` becomes a `claude_models.Usage`, which prices itself with `PRICES`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, Sequence

import defaults
import highlights as highlighting
from faithfulness import Sources, check, unsupported_numbers
from claude_models import BASE_CHARS_PER_TOKEN, Usage, estimate_tokens
from claude_models import model as claude_model
from config import Settings
from diff_analyzer import FilingDiff, ItemDiff
from highlights import Highlight
from form_10k import ITEM_TITLES
from retry import Backoff, retry_after_seconds

log = logging.getLogger("ai_analyzer")

CHANGE_TYPES = ("added", "removed", "modified", "moved", "numbers")
MATERIALITY = ("high", "medium", "low")
MAX_KEY_CHANGES = 4  # each costs ~60 output tokens; a reader takes in four
MIN_ITEM_TOKENS = 800  # an item that cannot get this much of the budget is left out, not mangled
MAX_ITEMS_SUMMARIZED = 7  # with the executive summary, 8 requests: one round at the default concurrency
SMALL_ITEM_TOKENS = 1500  # items whose prompt is smaller may go to ANTHROPIC_SMALL_MODEL
CALL_SAFETY_SECONDS = 2.0  # leave this much of the job's time for validating and saving
EXECUTIVE = "executive"

# Items differ in what a reader gains from a summary of their changes: risk factors and MD&A most,
# the exhibit index almost nothing. The change score is multiplied by this weight to rank items.
ITEM_WEIGHTS = {
    "1": 1.0, "1A": 1.5, "1B": 0.6, "1C": 1.0, "2": 0.5, "3": 1.0, "4": 0.2, "5": 0.5, "6": 0.1,
    "7": 1.3, "7A": 0.9, "8": 0.4, "9": 0.5, "9A": 0.6, "9B": 0.6, "9C": 0.3, "10": 0.3, "11": 0.3,
    "12": 0.3, "13": 0.3, "14": 0.3, "15": 0.05, "16": 0.05,
}


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyChange:
    summary: str
    change_type: str  # added | removed | modified | moved | numbers
    materiality: str  # high | medium | low
    evidence: str  # a verbatim quote from the filing
    highlights: tuple[str, ...] = ()  # ids of the report's highlights this sentence rests on


@dataclass(frozen=True)
class ExecutiveSentence:
    text: str
    highlights: tuple[str, ...] = ()  # the highlight ids it rests on


@dataclass(frozen=True)
class ItemSummary:
    item: str
    headline: str
    key_changes: tuple[KeyChange, ...] = ()
    new_risks: tuple[str, ...] = ()
    removed_risks: tuple[str, ...] = ()
    faithfulness_misses: tuple[str, ...] = ()
    model: str | None = None
    truncated_input: bool = False  # the diff did not fit the item budget; the summary saw part of it


@dataclass(frozen=True)
class OmittedItem:
    item: str
    reason: str


@dataclass(frozen=True)
class AiSummaries:
    provider: str  # offline | anthropic
    model: str | None
    items: dict[str, ItemSummary]
    executive_summary: str
    omitted_items: tuple[OmittedItem, ...] = ()
    failures: dict[str, str] = field(default_factory=dict)  # item (or "executive") -> why no summary
    invalid_outputs: dict[str, str] = field(default_factory=dict)  # item -> the problem, after the repair retry
    executive_misses: tuple[str, ...] = ()
    usage: tuple[Usage, ...] = ()
    requests: int = 0
    executive_sentences: tuple[ExecutiveSentence, ...] = ()  # the executive summary, sentence by sentence, with citations
    ranked_items: tuple[str, ...] = ()  # the order the items were chosen in (the validator judges by the same)

    @property
    def cost_usd(self) -> float:
        return sum(u.cost_usd for u in self.usage)

    @property
    def total_tokens(self) -> int:
        return sum(u.total_tokens for u in self.usage)

    def to_dict(self) -> dict:
        return {
            "provider": self.provider,
            "model": self.model,
            "executive_summary": self.executive_summary,
            "executive_sentences": [{"text": e.text, "highlights": list(e.highlights)} for e in self.executive_sentences],
            "ranked_items": list(self.ranked_items),
            "executive_faithfulness_misses": list(self.executive_misses),
            "items": {item: asdict(summary) for item, summary in self.items.items()},
            "omitted_items": [asdict(o) for o in self.omitted_items],
            "failures": dict(self.failures),
            "invalid_outputs": dict(self.invalid_outputs),
            "usage": {
                "requests": self.requests,
                "input_tokens": sum(u.input_tokens for u in self.usage),
                "output_tokens": sum(u.output_tokens for u in self.usage),
                "cache_creation_input_tokens": sum(u.cache_creation_input_tokens for u in self.usage),
                "cache_read_input_tokens": sum(u.cache_read_input_tokens for u in self.usage),
                "total_tokens": self.total_tokens,
                "cost_usd": round(self.cost_usd, 6),
            },
        }


class Summarizer(Protocol):
    def summarize(self, diff: FilingDiff, *, highlights: Sequence[Highlight] | None = None,
                  deadline: float | None = None, sources: Sources | None = None) -> AiSummaries: ...


# --------------------------------------------------------------------------------------------------
# Planning: the diff -> one prompt per item, within budgets (pure)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemRequest:
    item: str
    prompt: str
    estimated_tokens: int
    truncated: bool
    sections_sent: int
    sections_total: int
    highlight_ids: tuple[str, ...] = ()  # the highlights shown: the ids a key change may cite


@dataclass(frozen=True)
class RequestPlan:
    items: tuple[ItemRequest, ...]
    omitted: tuple[OmittedItem, ...]
    executive_prompt: str
    ranked_items: tuple[str, ...] = ()
    executive_ids: tuple[str, ...] = ()  # the highlights the executive prompt shows


def rank_items(diff: FilingDiff, highlights: Sequence[Highlight] = ()) -> list[ItemDiff]:
    """Changed items, most worth summarizing first: in the order of their first highlight, then
    (items with no highlight) by change score times the item's weight."""
    changed = [d for d in diff.items.values() if d.substantive]  # churn-only items have nothing to summarize
    first: dict[str, int] = {}
    for highlight in highlights:
        if highlight.item and highlight.item not in first:
            first[highlight.item] = highlight.rank
    return sorted(changed, key=lambda d: (first.get(d.item, 1_000_000), -d.stats.change_score * ITEM_WEIGHTS.get(d.item, 0.5)))


def item_shown_text(item_diff: ItemDiff) -> str:
    """What the model was shown besides the filing's words: the item's number and the diff's counts.
    A summary may repeat those numbers ("Item 7", "3 paragraphs added")."""
    return _item_header(item_diff)


def highlight_section(highlight: Highlight) -> str:
    """A highlight as the model sees it: its id to cite, what it is, its quotes and its redline."""
    lines = [f"HIGHLIGHT {highlight.id} ({highlight.kind.replace('_', ' ')}): {highlight.headline}"]
    for side in ("new", "old"):
        quote = (highlight.quotes or {}).get(side)
        if quote and quote.get("text"):
            lines.append(f"{side.upper()} TEXT: {quote['text']}")
    if highlight.redline:
        lines.append(f"REDLINE: {_words(highlight.redline, 220)}")
    return "\n".join(lines)


def _sections(item_diff: ItemDiff, highlights: Sequence[Highlight] = ()) -> list[str]:
    """The item's changes as prompt sections, most informative first: its highlights (ranked, to be
    cited by id), then the rest of its diff."""
    sections: list[str] = [highlight_section(h) for h in highlights if h.item == item_diff.item]
    for risk in item_diff.risk_factor_changes:
        if risk.kind in ("added", "removed"):
            title = risk.new_title or risk.old_title or ""
            body = risk.new_text or risk.old_text or ""
            sections.append(f"{risk.kind.upper()} RISK FACTOR: {title}\n{_words(body, 80)}")
        elif risk.kind == "reworded" and risk.title_changed and not risk.trivial:
            sections.append(f"RENAMED RISK FACTOR: {risk.old_title} -> {risk.new_title}")
    prose_first = sorted(item_diff.number_changes, key=lambda n: n.in_table)  # stable: document order within each
    for number in prose_first[:25]:
        where = f"row {number.row_label}" if number.in_table and number.row_label else _words(number.context or "", 30)
        sections.append(f"NUMBER CHANGED: {number.old_text} -> {number.new_text} ({where})")
    changes = [c for c in item_diff.changes if c.kind != "unchanged" and not c.trivial]
    changes.sort(key=lambda c: -_change_weight(c))
    for change in changes:
        if change.kind == "modified" and change.redline:
            sections.append(f"REWORDED (redline: [-removed-] {{+added+}}):\n{change.redline}\nNEW TEXT:\n{change.new_text}")
        elif change.kind == "added":
            sections.append(f"ADDED PARAGRAPH:\n{change.new_text}")
        elif change.kind == "removed":
            sections.append(f"REMOVED PARAGRAPH:\n{change.old_text}")
        elif change.kind == "moved":
            sections.append(f"MOVED PARAGRAPH (same text, another place):\n{_words(change.new_text or '', 60)}")
    return sections


def _change_weight(change) -> float:
    text = change.new_text or change.old_text or ""
    words = len(text.split())
    if change.kind == "modified":
        return words * (1.0 - (change.similarity or 0.0)) * 2 + 1
    if change.kind == "moved":
        return 0.1 * words
    return float(words)


def _words(text: str, limit: int) -> str:
    words = text.split()
    return " ".join(words[:limit]) + (" ..." if len(words) > limit else "")


def _item_header(item_diff: ItemDiff) -> str:
    s = item_diff.stats
    title = ITEM_TITLES.get(item_diff.item, "")
    presence = {
        "newer_only": "This item is new in the newer filing.",
        "older_only": "This item is absent from the newer filing.",
    }.get(item_diff.presence, "")
    return (
        f"ITEM {item_diff.item} ({title}) of a company's annual report (Form 10-K), older year vs newer year. {presence}\n"
        f"Paragraphs: {s.paragraphs_added} added, {s.paragraphs_removed} removed, {s.paragraphs_modified} reworded, "
        f"{s.paragraphs_moved} moved, {s.paragraphs_unchanged} unchanged; {s.share_changed:.0%} of the words changed."
    )


def build_item_request(item_diff: ItemDiff, budget_tokens: int, highlights: Sequence[Highlight] = (), model: str | None = None) -> ItemRequest:
    header = _item_header(item_diff)
    sections = _sections(item_diff, highlights)
    unchanged = next((c.new_text for c in item_diff.changes if c.kind == "unchanged" and c.new_text), None)
    context = f"CONTEXT (an unchanged paragraph, for orientation only):\n{_words(unchanged, 50)}" if unchanged else ""
    used = estimate_tokens(header, model) + estimate_tokens(context, model) + 60
    chosen: list[str] = []
    for section in sections:
        cost = estimate_tokens(section, model)
        if used + cost > budget_tokens:
            if not chosen and cost > budget_tokens // 2:  # one huge paragraph: send its start
                section = section[: int((budget_tokens - used) * BASE_CHARS_PER_TOKEN * 0.9)] + " ..."
                chosen.append(section)
                used += estimate_tokens(section, model)
            continue
        chosen.append(section)
        used += cost
    body = "\n\n".join(f"[{n + 1}] {s}" for n, s in enumerate(chosen))
    prompt = f"{header}\n\nCHANGES ({len(chosen)} of {len(sections)} shown, largest first):\n\n{body}"
    if context:
        prompt += f"\n\n{context}"
    return ItemRequest(
        item=item_diff.item,
        prompt=prompt,
        estimated_tokens=estimate_tokens(prompt, model),
        truncated=len(chosen) < len(sections),
        sections_sent=len(chosen),
        sections_total=len(sections),
        highlight_ids=tuple(h.id for h in highlights if h.item == item_diff.item and f"HIGHLIGHT {h.id} " in prompt),
    )


def plan_requests(diff: FilingDiff, *, report_budget: int, item_budget: int, system_tokens: int = 0,
                  highlights: Sequence[Highlight] = (), model: str | None = None) -> RequestPlan:
    """Fit the most valuable items into the budgets; the rest are named with the reason.

    The budget is shared out by water-filling: items whose whole diff is small get all of it, the
    large ones split what is left (never more than `item_budget` each). So one huge Item 8 cannot
    starve Items 3 and 1C, and no item is sent in a sliver too thin to summarize.
    """
    ranked = rank_items(diff, highlights)
    executive = build_executive_prompt(ranked, highlights, budget_tokens=report_budget // 4, model=model)
    remaining = report_budget - estimate_tokens(executive, model) - system_tokens
    omitted: list[OmittedItem] = []
    candidates: list[tuple[ItemDiff, int]] = []  # (item, tokens its whole diff needs)
    for item_diff in ranked:
        sections = _sections(item_diff, highlights)
        if not sections:
            omitted.append(OmittedItem(item_diff.item, "only trivial changes"))
        elif len(candidates) >= MAX_ITEMS_SUMMARIZED:
            omitted.append(OmittedItem(item_diff.item, f"only the {MAX_ITEMS_SUMMARIZED} most changed items are summarized"))
        else:
            need = sum(estimate_tokens(s, model) for s in sections) + estimate_tokens(_item_header(item_diff), model) + 120
            candidates.append((item_diff, need + system_tokens))

    allowance: dict[str, int] = {}
    while candidates:
        share = remaining // len(candidates)
        if share < MIN_ITEM_TOKENS:  # too little for everyone: drop the lowest-ranked and share again
            dropped, _ = candidates.pop()
            omitted.append(OmittedItem(dropped.item, "report input budget used up by higher-ranked items"))
            continue
        small = [(d, need) for d, need in candidates if need <= min(share, item_budget)]
        if not small:
            for d, _ in candidates:
                allowance[d.item] = min(share, item_budget)
            break
        for d, need in small:
            allowance[d.item] = need
            remaining -= need
        candidates = [(d, need) for d, need in candidates if d.item not in allowance]

    requests = [build_item_request(d, allowance[d.item] - system_tokens, highlights, model) for d in ranked if d.item in allowance]
    executive_ids = tuple(h.id for h in highlights if f"HIGHLIGHT {h.id} " in executive)
    return RequestPlan(items=tuple(requests), omitted=tuple(omitted), executive_prompt=executive,
                       ranked_items=tuple(d.item for d in ranked), executive_ids=executive_ids)


def build_executive_prompt(ranked: list[ItemDiff], highlights: Sequence[Highlight] = (), budget_tokens: int = 4000,
                           model: str | None = None) -> str:
    """The executive summary's input: the key figures first, then the most material highlights, each
    with the id a sentence must cite; without highlights, the most changed items."""
    if highlights:
        key = [h for h in highlights if h.kind in ("key_figure", "segment")]
        rest = [h for h in highlights if h.kind not in ("key_figure", "segment")]
        lines = ["What changed between two consecutive annual reports (Form 10-K) of one company, most material first.",
                 "", "KEY FIGURES:"]
        used = estimate_tokens("\n".join(lines), model)
        for group_name, group in (("KEY FIGURES", key), ("CHANGES", rest)):
            if group_name == "CHANGES":
                lines += ["", "CHANGES:"]
            for highlight in group:
                section = highlight_section(highlight)
                cost = estimate_tokens(section, model)
                if used + cost > budget_tokens:
                    break
                lines.append(section)
                used += cost
        return "\n".join(lines)
    lines = ["The items of a company's annual report (Form 10-K) that changed most from the older to the newer year:"]
    for item_diff in ranked[:10]:
        lines.append(f"\n- {_item_header(item_diff)}")
        for risk in [r for r in item_diff.risk_factor_changes if r.kind in ("added", "removed")][:6]:
            lines.append(f"  {risk.kind} risk factor: {_words(risk.new_title or risk.old_title or '', 30)}")
        for number in sorted(item_diff.number_changes, key=lambda n: n.in_table)[:4]:
            lines.append(f"  number: {number.old_text} -> {number.new_text} ({_words(number.context or '', 16)})")
        for change in sorted(item_diff.changes, key=lambda c: -_change_weight(c))[:2]:
            if change.kind in ("added", "modified"):
                lines.append(f"  {change.kind}: {_words(change.new_text or '', 45)}")
            elif change.kind == "removed":
                lines.append(f"  removed: {_words(change.old_text or '', 45)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Output: schema, parsing, validation, faithfulness (pure)
# --------------------------------------------------------------------------------------------------

ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["headline", "key_changes", "new_risks", "removed_risks"],
    "properties": {
        "headline": {"type": "string", "description": "One sentence: the most important change in this item."},
        "key_changes": {
            "type": "array",
            "description": f"At most {MAX_KEY_CHANGES}, most material first.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["summary", "change_type", "materiality", "evidence"],
                "properties": {
                    "summary": {"type": "string"},
                    "change_type": {"type": "string", "enum": list(CHANGE_TYPES)},
                    "materiality": {"type": "string", "enum": list(MATERIALITY)},
                    "evidence": {"type": "string",
                                 "description": "A verbatim quote (one sentence or less) from the NEW TEXT, or from a REMOVED paragraph."},
                },
            },
        },
        "new_risks": {"type": "array", "items": {"type": "string"}},
        "removed_risks": {"type": "array", "items": {"type": "string"}},
    },
}
EXECUTIVE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["executive_summary"],
    "properties": {"executive_summary": {"type": "string", "description": "3 to 5 sentences for an investor."}},
}


def item_schema(highlight_ids: Sequence[str]) -> dict[str, Any]:
    """ITEM_SCHEMA, each key change citing the ids of the highlights it rests on (an enum: the model
    can cite only what it was shown)."""
    if not highlight_ids:
        return ITEM_SCHEMA
    schema = json.loads(json.dumps(ITEM_SCHEMA))
    change = schema["properties"]["key_changes"]["items"]
    change["required"] = change["required"] + ["highlights"]
    change["properties"]["highlights"] = {"type": "array", "items": {"type": "string", "enum": list(highlight_ids)},
                                          "description": "The ids of the HIGHLIGHTs this change rests on."}
    return schema


def executive_schema(highlight_ids: Sequence[str]) -> dict[str, Any]:
    """3 to 5 sentences, each citing the highlight ids it rests on; the key figures first."""
    if not highlight_ids:
        return EXECUTIVE_SCHEMA
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["sentences"],
        "properties": {"sentences": {
            "type": "array",
            "description": "3 to 5 sentences for an investor, the key figures first.",
            "items": {"type": "object", "additionalProperties": False, "required": ["text", "highlights"],
                      "properties": {"text": {"type": "string"},
                                     "highlights": {"type": "array", "items": {"type": "string", "enum": list(highlight_ids)}}}},
        }},
    }

SYSTEM_PROMPT = f"""You are a securities analyst comparing two consecutive annual reports (Form 10-K) of one company.
You receive, for one Item of the report, what changed from the older year to the newer year: reworded
paragraphs with a redline ([-removed words-] {{+added words+}}), added and removed paragraphs, new and
removed risk factors, and number changes. You answer with JSON that matches the given schema.

Rules:
- Report only what the changes shown support. Do not use outside knowledge about the company.
- Every number you write must appear in the changes shown, written the same way. If unsure, omit it.
- "evidence" is a verbatim quote of at most one sentence, copied exactly from a NEW TEXT, an ADDED
  paragraph or a REMOVED paragraph (never from a redline, never paraphrased).
- change_type: added (new disclosure), removed (dropped disclosure), modified (reworded with a change of
  meaning), moved (same text elsewhere), numbers (figures updated).
- materiality: high (could change an investor's view: new risks, lost customers, litigation, guidance,
  restructuring, going concern, large swings), medium (notable but expected), low (routine updates).
- Ignore routine churn: the fiscal year rolling forward, page references, formatting.
- At most {MAX_KEY_CHANGES} key changes, most material first. Write plain, short sentences.
- new_risks / removed_risks: short titles of risk factors added or dropped (empty lists when none).
- When the changes include HIGHLIGHTs, start from them: each key change cites the ids of the highlights it
  rests on, and its direction ("rose", "fell") must agree with the figures shown.
"""

EXECUTIVE_SYSTEM_PROMPT = """You are a securities analyst. From the summary of changes between two consecutive annual
reports (Form 10-K) of one company, write a 3 to 5 sentence executive summary for an investor: lead with the
key figures, then the most material changes. Use only the facts given; every number you write must appear in
the input, written the same way; say "rose" only of a figure that rose and "fell" only of one that fell. When
the input lists HIGHLIGHTs, each sentence cites the ids of the highlights it rests on. Answer with JSON that
matches the given schema."""


def parse_item_summary(item: str, text: str, highlight_ids: Sequence[str] = ()) -> tuple[ItemSummary | None, str | None]:
    """(summary, None) when `text` is JSON satisfying ITEM_SCHEMA, else (None, the problem)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, f"not valid JSON ({exc.msg} at character {exc.pos})"
    if not isinstance(data, dict):
        return None, "the answer is not a JSON object"
    missing = [k for k in ITEM_SCHEMA["required"] if k not in data]
    if missing:
        return None, f"missing fields: {', '.join(missing)}"
    if not isinstance(data["headline"], str) or not data["headline"].strip():
        return None, "headline must be a non-empty string"
    changes = []
    if not isinstance(data["key_changes"], list):
        return None, "key_changes must be an array"
    for n, change in enumerate(data["key_changes"][:MAX_KEY_CHANGES]):
        if not isinstance(change, dict):
            return None, f"key_changes[{n}] must be an object"
        for key in ("summary", "change_type", "materiality", "evidence"):
            if not isinstance(change.get(key), str) or not change[key].strip():
                return None, f"key_changes[{n}].{key} must be a non-empty string"
        if change["change_type"] not in CHANGE_TYPES:
            return None, f"key_changes[{n}].change_type {change['change_type']!r} is not one of {', '.join(CHANGE_TYPES)}"
        if change["materiality"] not in MATERIALITY:
            return None, f"key_changes[{n}].materiality {change['materiality']!r} is not one of {', '.join(MATERIALITY)}"
        cited = tuple(h for h in change.get("highlights", ()) if isinstance(h, str) and h in highlight_ids)
        changes.append(KeyChange(change["summary"].strip(), change["change_type"], change["materiality"], change["evidence"].strip(), cited))
    for key in ("new_risks", "removed_risks"):
        if not isinstance(data[key], list) or not all(isinstance(r, str) for r in data[key]):
            return None, f"{key} must be an array of strings"
    return (
        ItemSummary(
            item=item,
            headline=data["headline"].strip(),
            key_changes=tuple(changes),
            new_risks=tuple(r.strip() for r in data["new_risks"] if r.strip()),
            removed_risks=tuple(r.strip() for r in data["removed_risks"] if r.strip()),
        ),
        None,
    )


def parse_executive(text: str, highlight_ids: Sequence[str] = ()) -> tuple[tuple[ExecutiveSentence, ...] | None, str | None]:
    """The executive summary's sentences (with their cited highlight ids), or (None, the problem)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, f"not valid JSON ({exc.msg})"
    if not isinstance(data, dict):
        return None, "the answer is not a JSON object"
    if isinstance(data.get("sentences"), list):
        sentences = []
        for entry in data["sentences"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("text"), str) or not entry["text"].strip():
                return None, "each sentence must be an object with a non-empty text"
            cited = tuple(h for h in entry.get("highlights") or () if isinstance(h, str) and h in highlight_ids)
            sentences.append(ExecutiveSentence(entry["text"].strip(), cited))
        return (tuple(sentences), None) if sentences else (None, "no sentences")
    if not isinstance(data.get("executive_summary"), str) or not data["executive_summary"].strip():
        return None, "executive_summary must be a non-empty string"
    return (ExecutiveSentence(data["executive_summary"].strip()),), None


# --------------------------------------------------------------------------------------------------
# Claude (I/O)
# --------------------------------------------------------------------------------------------------


class _CallFailed(Exception):
    """A request that produced no usable answer; `reason` is stored in the report."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _Spend:
    """What one report's requests used. The first request of each item is planned within the report's
    input budget; follow-ups (a repair of an unusable answer, a re-ask of the large model) draw on a
    second allowance of the same size, reserved by estimate before they are sent, so no pattern of
    answers takes a report past about twice its budget."""

    def __init__(self, follow_up_allowance: int) -> None:
        self.follow_up_allowance = follow_up_allowance
        self.follow_up_reserved = 0
        self.usage: list[Usage] = []
        self._lock = threading.Lock()

    def record(self, usage: Usage) -> None:
        with self._lock:
            self.usage.append(usage)

    def reserve_follow_up(self, tokens: int) -> bool:
        with self._lock:
            if self.follow_up_reserved + tokens > self.follow_up_allowance:
                return False
            self.follow_up_reserved += tokens
            return True


class ClaudeSummarizer:
    provider = "anthropic"

    def __init__(self, settings: Settings, client=None):
        import anthropic

        self.settings = settings
        self.model = settings.anthropic_model
        self.small_model = settings.anthropic_small_model
        self.client = client or anthropic.Anthropic(
            api_key=settings.anthropic_api_key,
            base_url=settings.anthropic_base_url,
            max_retries=0,  # our loop retries: it caps retry-after and respects the job's deadline
            timeout=settings.anthropic_timeout_seconds,
        )
        self._anthropic = anthropic
        self._rng = random.Random()
        self._backoff = Backoff(  # when Claude says nothing (retry-after is honoured instead, up to its cap)
            base=defaults.ANTHROPIC_RETRY_BASE_SECONDS,
            cap=defaults.ANTHROPIC_RETRY_MAX_DELAY_SECONDS,
            jitter=defaults.ANTHROPIC_RETRY_JITTER,
        )

    # -- orchestration -----------------------------------------------------------------------------

    def summarize(self, diff: FilingDiff, *, highlights: Sequence[Highlight] | None = None, deadline: float | None = None,
                  sources: Sources | None = None) -> AiSummaries:
        deadline = deadline if deadline is not None else time.monotonic() + self.settings.job_timeout_seconds
        sources = sources or Sources(diff)  # each item's text normalised once, shared with the validator
        counting = min(filter(None, (self.model, self.small_model)), key=lambda m: claude_model(m).chars_per_token)
        plan = plan_requests(  # budgets counted by the denser tokenizer of the two models that may answer
            diff,
            report_budget=self.settings.ai_max_input_tokens_per_report,
            item_budget=self.settings.ai_max_input_tokens_per_item,
            system_tokens=estimate_tokens(SYSTEM_PROMPT, counting),
            highlights=highlights or (),
            model=counting,
        )
        spend = _Spend(follow_up_allowance=self.settings.ai_max_input_tokens_per_report)

        results: dict[str, ItemSummary] = {}
        failures: dict[str, str] = {}
        invalid: dict[str, str] = {}
        executive: tuple[ExecutiveSentence, ...] = ()
        if not plan.items:
            return AiSummaries(self.provider, self.model, {}, "No item changed materially between the two annual reports.",
                               omitted_items=plan.omitted, ranked_items=plan.ranked_items)
        with ThreadPoolExecutor(max_workers=self.settings.ai_max_concurrency, thread_name_prefix="claude") as pool:
            futures = {
                request.item: pool.submit(contextvars.copy_context().run, self._summarize_item, request, deadline, spend,
                                          sources)
                for request in plan.items
            }
            executive_future = pool.submit(contextvars.copy_context().run, self._executive, plan.executive_prompt, deadline, spend,
                                           plan.executive_ids)
            for item, future in futures.items():
                try:
                    results[item] = future.result()
                except _CallFailed as exc:
                    (invalid if exc.reason.startswith("invalid output") else failures)[item] = exc.reason
            try:
                executive = executive_future.result()
            except _CallFailed as exc:
                failures[EXECUTIVE] = exc.reason
        executive_text = " ".join(e.text for e in executive)
        executive_misses = unsupported_numbers(executive_text, plan.executive_prompt) if executive_text else ()
        if not executive_text:
            executive = (ExecutiveSentence(_fallback_executive(results, diff, plan.ranked_items)),)
            executive_text = executive[0].text
        return AiSummaries(
            provider=self.provider,
            model=self.model,
            items=results,
            executive_summary=executive_text,
            omitted_items=plan.omitted,
            failures=failures,
            invalid_outputs=invalid,
            executive_misses=executive_misses,
            usage=tuple(spend.usage),
            requests=len(spend.usage),
            executive_sentences=executive,
            ranked_items=plan.ranked_items,
        )

    def _summarize_item(self, request: ItemRequest, deadline: float, spend: _Spend, sources: Sources) -> ItemSummary:
        model = self.small_model if self.small_model and request.estimated_tokens < SMALL_ITEM_TOKENS else self.model
        summary = self._structured(request.item, request.prompt, model, deadline, spend, request.highlight_ids)
        misses = check(summary, sources.of(request.item), request.prompt)
        if misses and model != self.model:
            if spend.reserve_follow_up(request.estimated_tokens + estimate_tokens(SYSTEM_PROMPT, self.model)):
                log.info("small model unfaithful; escalating", extra={"item": request.item, "misses": len(misses)})
                model = self.model
                summary = self._structured(request.item, request.prompt, model, deadline, spend, request.highlight_ids)
                misses = check(summary, sources.of(request.item), request.prompt)
            else:
                log.warning("small model unfaithful; no input budget left to escalate", extra={"item": request.item})
        return ItemSummary(
            item=summary.item,
            headline=summary.headline,
            key_changes=summary.key_changes,
            new_risks=summary.new_risks,
            removed_risks=summary.removed_risks,
            faithfulness_misses=misses,
            model=model,
            truncated_input=request.truncated,
        )

    def _structured(self, item: str, prompt: str, model: str, deadline: float, spend: _Spend,
                    highlight_ids: Sequence[str] = ()) -> ItemSummary:
        """One item request, and at most one repair request when the answer is unusable."""
        max_tokens = self.settings.ai_max_output_tokens_per_item
        schema = item_schema(highlight_ids)
        messages: list[dict] = [{"role": "user", "content": prompt}]
        problem = None
        for attempt in range(2):
            if attempt and not spend.reserve_follow_up(sum(estimate_tokens(m["content"], model) for m in messages)
                                                       + estimate_tokens(SYSTEM_PROMPT, model)):
                raise _CallFailed(f"invalid output, and no input budget left for a repair: {problem}")
            message = self._create(model, SYSTEM_PROMPT, messages, schema, max_tokens, deadline, spend)
            text = _answer_text(message)
            if message.stop_reason == "refusal":
                raise _CallFailed("the model declined to answer (refusal)")
            if message.stop_reason == "max_tokens":
                problem = "the answer was cut off at max_tokens"
                max_tokens = min(int(max_tokens * 1.5), 16000)
            else:
                summary, problem = parse_item_summary(item, text, highlight_ids)
                if summary is not None:
                    return summary
            log.warning("unusable model output", extra={"item": item, "attempt": attempt + 1, "problem": problem})
            messages = [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": text or "(no answer)"},
                {"role": "user", "content": f"Your answer was not usable: {problem}. Answer again with only one JSON object that "
                                            f"matches the schema, with at most 3 key changes and short sentences."},
            ]
        raise _CallFailed(f"invalid output after a repair attempt: {problem}")

    def _executive(self, prompt: str, deadline: float, spend: _Spend, highlight_ids: Sequence[str] = ()) -> tuple[ExecutiveSentence, ...]:
        messages = [{"role": "user", "content": prompt}]
        schema = executive_schema(highlight_ids)
        max_tokens = 800
        for attempt in range(2):
            if attempt and not spend.reserve_follow_up(sum(estimate_tokens(m["content"], self.model) for m in messages)):
                break
            message = self._create(self.model, EXECUTIVE_SYSTEM_PROMPT, messages, schema, max_tokens, deadline, spend)
            if message.stop_reason == "refusal":
                raise _CallFailed("the model declined to answer (refusal)")  # asked again, it declines again
            if message.stop_reason == "max_tokens":  # thinking counts toward max_tokens: a cut-off answer
                problem = "the answer was cut off at max_tokens"
                max_tokens = min(int(max_tokens * 2), 4000)
            else:
                sentences, problem = parse_executive(_answer_text(message), highlight_ids)
                if sentences:
                    return sentences
            messages = [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": _answer_text(message) or "(no answer)"},
                {"role": "user", "content": f"Your answer was not usable: {problem}. Answer with only the JSON object."},
            ]
        raise _CallFailed("invalid output after a repair attempt: executive summary")

    def _create(self, model, system, messages, schema, max_tokens, deadline, spend: _Spend):
        """messages.create with our retry loop, by the SDK's rules (408, 409, 429 and 5xx and network
        errors retried; `x-should-retry` obeyed; a spend-limit 429 is not retried: it does not clear in
        seconds), waits capped, the job's deadline kept."""
        anthropic = self._anthropic
        attempt = 0
        while True:
            remaining = deadline - time.monotonic() - CALL_SAFETY_SECONDS
            if remaining <= 1:
                raise _CallFailed("no time left in the job for this request")
            try:
                message = self.client.messages.create(
                    **request_body(model, system, messages, schema, max_tokens),
                    timeout=min(self.settings.anthropic_timeout_seconds, remaining),
                )
            except (anthropic.APIConnectionError, anthropic.APIStatusError) as exc:
                if not _retryable(exc):  # 400, 401, 403, 404, 413, a spend limit: retrying will not help
                    log.error("Claude request rejected", extra={"error": _describe(exc)})
                    raise _CallFailed(_describe(exc)) from exc
                wait = self._retry_wait(exc, attempt)
                if attempt >= self.settings.anthropic_max_retries or wait is None or wait > deadline - time.monotonic() - CALL_SAFETY_SECONDS - 1:
                    raise _CallFailed(f"{_describe(exc)} (after {attempt + 1} attempts)") from exc
                log.warning("Claude request failed; retrying", extra={"error": _describe(exc), "attempt": attempt + 1, "wait_s": round(wait, 2)})
                time.sleep(wait)
                attempt += 1
                continue
            spend.record(_usage_of(model, message))
            return message

    def _retry_wait(self, exc, attempt: int) -> float | None:
        response = getattr(exc, "response", None)
        headers = response.headers if response is not None else {}
        if headers.get("x-should-retry") == "false":
            return None
        server = retry_after_seconds(headers)
        if server is not None:
            return min(server, self.settings.ai_retry_after_cap_seconds)
        return self._backoff.delay(attempt + 1, self._rng)  # `attempt` counts retries from 0


RETRIED_STATUSES = frozenset((408, 409, 429))  # and every status from 500: the SDK's own rule
SPEND_LIMIT_CODES = frozenset(("enforced_spend_limit_reached", "contract_spend_limit_reached"))


def _retryable(exc) -> bool:
    status = getattr(exc, "status_code", None)
    if status is None:
        return True  # no answer: a connection error or a timeout
    if status == 429 and _error_code(exc) in SPEND_LIMIT_CODES:
        return False
    return status in RETRIED_STATUSES or status >= 500


def _error_code(exc) -> str | None:
    body = getattr(exc, "body", None)
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    return details.get("error_code") if isinstance(details, dict) else None


def request_body(model: str, system: str, messages: list[dict], schema: dict, max_tokens: int) -> dict:
    """The Messages API request, by what the model takes: `effort` only where the model supports it;
    `cache_control` only on a prefix at least as long as the model caches (a shorter one is never
    cached, and marking it would only pretend)."""
    spec = claude_model(model)
    output_config: dict[str, Any] = {"format": {"type": "json_schema", "schema": schema}}
    if spec.takes_effort:
        output_config["effort"] = "low"  # thinking is billed as output
    block: dict[str, Any] = {"type": "text", "text": system}
    if estimate_tokens(system, model) >= spec.min_cache_tokens:
        block["cache_control"] = {"type": "ephemeral"}
    return {"model": model, "max_tokens": max_tokens, "system": [block], "messages": messages, "output_config": output_config}


def _describe(exc) -> str:
    status = getattr(exc, "status_code", None)
    kind = type(exc).__name__
    return f"{kind} (HTTP {status})" if status else kind


def _answer_text(message) -> str:
    """The answer's text blocks; thinking and other blocks are skipped (never index content[0])."""
    return "".join(block.text for block in message.content if getattr(block, "type", None) == "text")


def _usage_of(model: str, message) -> Usage:
    u = message.usage
    return Usage(
        model=model,
        input_tokens=u.input_tokens or 0,
        output_tokens=u.output_tokens or 0,
        cache_creation_input_tokens=getattr(u, "cache_creation_input_tokens", 0) or 0,
        cache_read_input_tokens=getattr(u, "cache_read_input_tokens", 0) or 0,
    )


def _fallback_executive(results: dict[str, ItemSummary], diff: FilingDiff, order: Sequence[str] = ()) -> str:
    """When the executive request failed: the item headlines, in rank order."""
    ranked = [item for item in (order or [d.item for d in rank_items(diff)]) if item in results]
    if not ranked:
        return "No summary could be produced."
    return " ".join(results[item].headline for item in ranked[:4])


# --------------------------------------------------------------------------------------------------
# Offline
# --------------------------------------------------------------------------------------------------


_ABBREVIATIONS = re.compile(r"(?:\b[A-Z]\.|\b(?:No|Nos|Inc|Corp|Co|Ltd|LLC|L\.P|Mr|Ms|Mrs|Dr|St|vs|approx|e\.g|i\.e|"
                            r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.)$")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[A-Z(“\"$])")
MAX_EVIDENCE_CHARS = 400


def sentences(text: str) -> list[str]:
    """Split prose into sentences without breaking at abbreviations ("U.S.", "No.", "Inc.")."""
    out: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start:match.start()].strip()
        if _ABBREVIATIONS.search(candidate) or len(candidate) < 25:
            continue
        out.append(candidate)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def _quote(sentence: str) -> str:
    """A verbatim quote of at most MAX_EVIDENCE_CHARS, cut at a word boundary."""
    if len(sentence) <= MAX_EVIDENCE_CHARS:
        return sentence
    return sentence[:MAX_EVIDENCE_CHARS].rsplit(" ", 1)[0]


def changed_sentence(change) -> str:
    """The sentence that carries a change: for a reworded paragraph, the first sentence of the new
    text that last year's paragraph does not contain; else the paragraph's first sentence."""
    if change.kind == "removed":
        return _quote(sentences(change.old_text or "")[0] if change.old_text else "")
    new = sentences(change.new_text or "")
    if change.kind == "modified" and change.old_text:
        old = {" ".join(s.split()) for s in sentences(change.old_text)}
        fresh = [s for s in new if " ".join(s.split()) not in old]
        if fresh:
            return _quote(fresh[0])
    return _quote(new[0] if new else "")


class OfflineSummarizer:
    """Without Claude: complete sentences from the ranked highlights (their headlines are written
    from signed facts by `wording`), each citing the highlight it rests on, with the filing's own
    sentences as evidence. Costs nothing and invents nothing: every figure is the filing's, and no
    sentence is a fragment cut from a table."""

    provider = "offline"
    MAX_ITEMS = 12
    EXECUTIVE_KEY_FIGURES = 3
    EXECUTIVE_CHANGES = 3

    def summarize(self, diff: FilingDiff, *, highlights: Sequence[Highlight] | None = None, deadline: float | None = None,
                  sources: Sources | None = None) -> AiSummaries:
        ranked_highlights = list(highlights) if highlights is not None else highlighting.rank({}, diff)
        ranked = rank_items(diff, ranked_highlights)
        chosen, rest = ranked[: self.MAX_ITEMS], ranked[self.MAX_ITEMS :]
        items = {d.item: self._item_summary(d, [h for h in ranked_highlights if h.item == d.item]) for d in chosen}
        executive = self._executive(diff, ranked, ranked_highlights)
        return AiSummaries(
            provider=self.provider,
            model=None,
            items=items,
            executive_summary=" ".join(e.text for e in executive),
            omitted_items=tuple(OmittedItem(d.item, "offline summary covers the top items only") for d in rest),
            executive_sentences=executive,
            ranked_items=tuple(d.item for d in ranked),
        )

    def _executive(self, diff: FilingDiff, ranked: list[ItemDiff], highlights: list[Highlight]) -> tuple[ExecutiveSentence, ...]:
        """The key figures first, then the most material other changes: one sentence each."""
        if not ranked and not highlights:
            return (ExecutiveSentence("No item changed in substance between the two annual reports."),)
        key = [h for h in highlights if h.kind == "key_figure"][: self.EXECUTIVE_KEY_FIGURES]
        rest = [h for h in highlights if h.kind != "key_figure"][: self.EXECUTIVE_CHANGES]
        sentences = [ExecutiveSentence(_as_sentence(h.headline), (h.id,)) for h in key + rest]
        if not sentences:
            names = ", ".join(f"Item {d.item} ({ITEM_TITLES[d.item]})" for d in ranked[:3])
            sentences = [ExecutiveSentence(f"{len(ranked)} of {len(diff.items)} items changed in substance, most in {names}.")]
        return tuple(sentences)

    def _item_summary(self, item_diff: ItemDiff, highlights: list[Highlight]) -> ItemSummary:
        key_changes = []
        for highlight in highlights[:MAX_KEY_CHANGES]:
            quote = (highlight.quotes or {}).get("new") or (highlight.quotes or {}).get("old") or {}
            evidence = _quote(quote.get("text") or "")
            if not evidence:
                continue
            key_changes.append(KeyChange(
                summary=_as_sentence(highlight.headline),
                change_type=_CHANGE_TYPE.get(highlight.kind, "modified"),
                materiality="high" if highlight.materiality >= 0.6 else "medium" if highlight.materiality >= 0.35 else "low",
                evidence=evidence,
                highlights=(highlight.id,),
            ))
        if highlights:
            headline = _as_sentence(highlights[0].headline)
        else:
            s = item_diff.stats
            headline = (f"In {ITEM_TITLES.get(item_diff.item, 'this item')}, {s.paragraphs_added} paragraphs were added, "
                        f"{s.paragraphs_removed} removed and {s.paragraphs_modified} reworded.")
        risks = item_diff.risk_factor_changes
        return ItemSummary(
            item=item_diff.item,
            headline=headline,
            key_changes=tuple(key_changes),
            new_risks=tuple(r.new_title for r in risks if r.kind == "added" and r.new_title),
            removed_risks=tuple(r.old_title for r in risks if r.kind == "removed" and r.old_title),
        )


_CHANGE_TYPE = {"text_added": "added", "risk_factor_added": "added", "text_removed": "removed", "risk_factor_removed": "removed",
                "number_change": "numbers", "key_figure": "numbers", "segment": "numbers", "guidance": "numbers"}


def _as_sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def make_summarizer(settings: Settings) -> Summarizer:
    if settings.anthropic_api_key:
        return ClaudeSummarizer(settings)
    return OfflineSummarizer()
