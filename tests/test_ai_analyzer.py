"""The summarizers: Claude through the real SDK against a local Messages API, and the offline one."""

from __future__ import annotations

import json
import time

import pytest

from ai_analyzer import (
    EXECUTIVE,
    EXECUTIVE_SYSTEM_PROMPT,
    ITEM_SCHEMA,
    SYSTEM_PROMPT,
    ClaudeSummarizer,
    ItemSummary,
    KeyChange,
    OfflineSummarizer,
    parse_item_summary,
    plan_requests,
    request_body,
)
from anthropic_standin import AnthropicStandIn, Reply
from claude_models import PRICES, Usage
from diff_analyzer import diff_filings
from faithfulness import check_faithfulness, numbers_in
from form_10k import ITEM_ORDER
from section_extractor import ExtractedFiling, ItemStatus, ItemText

RISK_OLD = [
    "Our business depends on consumer demand for our products, which may be affected by economic conditions.",
    "We rely on a small number of suppliers for key components and could be harmed by shortages of supply.",
    "Our operations are exposed to currency fluctuations that can reduce our reported revenue materially.",
]
RISK_NEW = [
    "Our business depends on consumer demand for our products, which may be affected by economic conditions and by tariffs.",
    "We rely on a small number of suppliers for key components and could be harmed by shortages of supply.",
    "New export controls restrict the sale of our most advanced products to customers located in certain countries.",
]
MDNA_OLD = ["Net sales were $391.0 billion for the year, an increase compared with the prior year driven by services growth."]
MDNA_NEW = ["Net sales were $394.3 billion for the year, an increase compared with the prior year driven by services and wearables growth."]


def filing(items: dict[str, list[str]]) -> ExtractedFiling:
    texts = {}
    for item in ITEM_ORDER:
        paragraphs = tuple(items.get(item, ()))
        texts[item] = ItemText(item=item, status=ItemStatus.PRESENT if paragraphs else ItemStatus.MISSING, paragraphs=paragraphs)
    return ExtractedFiling(items=texts, document_chars=1000, source_format="html", method="headings")


def small_diff(extra_items: int = 0):
    older = {"1A": RISK_OLD, "7": MDNA_OLD}
    newer = {"1A": RISK_NEW, "7": MDNA_NEW}
    for n, item in enumerate(["1", "2", "3", "5", "9A", "9B", "1C"][:extra_items]):
        older[item] = [f"The company described topic number {n} in plain words that stay the same from year to year here."]
        newer[item] = [f"The company described topic number {n} in plain words that changed noticeably in the newer filing here."]
    return diff_filings(filing(older), filing(newer))


def only_item(item):
    return lambda body: f"ITEM {item} " in body["messages"][0]["content"] and body["output_config"]["format"]["schema"] == ITEM_SCHEMA


@pytest.fixture
def claude():
    server = AnthropicStandIn().start()
    yield server
    server.stop()


def summarizer(server, settings_factory, **env) -> ClaudeSummarizer:
    return ClaudeSummarizer(settings_factory(ANTHROPIC_API_KEY="sk-ant-test-key", ANTHROPIC_BASE_URL=server.base_url, **env))


# -- the wire format -------------------------------------------------------------------------------


def test_requests_follow_the_api_contract(claude, settings_factory):
    result = summarizer(claude, settings_factory).summarize(small_diff())
    requests = claude.message_requests()
    assert len(requests) == 3 and all(r.status == 200 for r in requests)  # items 1A and 7, and the executive summary
    for r in requests:
        body = r.body
        assert r.headers["Authorization"] == "Bearer sk-ant-test-key"
        assert not {"temperature", "top_p", "top_k", "tool_choice"} & set(body)
        assert body["messages"][-1]["role"] == "user"
        assert body["output_config"]["effort"] == "low"
        assert body["output_config"]["format"]["type"] == "json_schema"
        # the system prompt (~500 tokens) is below Sonnet 5.5's cacheable minimum: marking it would pretend
        assert "cache_control" not in body["system"][0]
    item_bodies = [r.body for r in requests if r.body["output_config"]["format"]["schema"] == ITEM_SCHEMA]
    assert len(item_bodies) == 2 and all(b["system"][0]["text"] == SYSTEM_PROMPT for b in item_bodies)
    assert set(result.items) == {"1A", "7"} and result.provider == "anthropic" and result.model == "claude-sonnet-5-5"
    assert result.requests == 3 and result.failures == {} and result.invalid_outputs == {}
    assert result.executive_summary


def test_prompt_is_built_from_the_diff_not_whole_items(claude, settings_factory):
    summarizer(claude, settings_factory).summarize(small_diff())
    prompt = next(r.body["messages"][0]["content"] for r in claude.message_requests() if only_item("1A")(r.body))
    assert "[-" in prompt and "{+" in prompt  # the redline of the reworded risk factor
    assert "New export controls restrict" in prompt  # the added risk factor
    assert prompt.count("We rely on a small number of suppliers") <= 1  # unchanged text is context at most


def test_thinking_blocks_are_skipped(settings_factory):
    server = AnthropicStandIn(thinking_tokens=120).start()
    result = summarizer(server, settings_factory).summarize(small_diff())
    assert set(result.items) == {"1A", "7"}
    assert sum(u.output_tokens for u in result.usage) > 3 * 120  # thinking is billed as output
    server.stop()


# -- concurrency and time --------------------------------------------------------------------------


def test_items_run_concurrently(settings_factory):
    server = AnthropicStandIn(latency=1.0).start()
    started = time.monotonic()
    result = summarizer(server, settings_factory).summarize(small_diff(extra_items=5))
    elapsed = time.monotonic() - started
    assert len(result.items) == 7 and result.requests == 8
    assert elapsed < 2.0, f"8 requests of 1 s took {elapsed:.1f} s: not concurrent"
    server.stop()


def test_deadline_is_respected(settings_factory):
    server = AnthropicStandIn(latency=5.0).start()
    started = time.monotonic()
    result = summarizer(server, settings_factory).summarize(small_diff(), deadline=time.monotonic() + 4.5)
    assert time.monotonic() - started < 4.6
    assert set(result.failures) >= {"1A", "7"} and result.items == {}
    server.stop()


# -- retries ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        Reply.error(429, "rate limited", retry_after_ms="50"),
        Reply.error(529, "Overloaded", retry_after="0"),
        Reply.error(500, "Internal server error"),
    ],
)
def test_transient_errors_are_retried(claude, settings_factory, failure):
    claude.add(failure)
    result = summarizer(claude, settings_factory).summarize(small_diff())
    assert result.failures == {} and set(result.items) == {"1A", "7"}
    statuses = [r.status for r in claude.message_requests()]
    assert statuses.count(failure.status) == 1 and statuses.count(200) == 3


def test_server_retry_after_is_capped(claude, settings_factory):
    claude.add(Reply.error(429, "slow down", retry_after="60"))
    started = time.monotonic()
    result = summarizer(claude, settings_factory, AI_RETRY_AFTER_CAP_SECONDS="0.3").summarize(small_diff())
    assert time.monotonic() - started < 5 and result.failures == {}


def test_retries_are_bounded(claude, settings_factory):
    for _ in range(10):
        claude.add(Reply.error(529, "Overloaded", retry_after_ms="10", match=only_item("7")))
    result = summarizer(claude, settings_factory, ANTHROPIC_MAX_RETRIES="2").summarize(small_diff())
    assert "OverloadedError" in result.failures["7"] and "after 3 attempts" in result.failures["7"]
    assert "1A" in result.items


def test_should_retry_false_is_obeyed(claude, settings_factory):
    claude.add(Reply.error(429, "spend limit", should_retry="false", match=only_item("7")))
    result = summarizer(claude, settings_factory).summarize(small_diff())
    assert "7" in result.failures and "after 1 attempts" in result.failures["7"]


def test_authentication_error_fails_items_without_retry(claude, settings_factory):
    for _ in range(3):
        claude.add(Reply.error(401, "invalid x-api-key"))
    result = summarizer(claude, settings_factory).summarize(small_diff())
    assert len(claude.message_requests()) == 3  # no retries
    assert set(result.failures) == {"1A", "7", EXECUTIVE}
    assert all("AuthenticationError" in reason for reason in result.failures.values())
    assert result.executive_summary  # a fallback text, never empty


# -- invalid output --------------------------------------------------------------------------------


def test_invalid_json_is_repaired_once(claude, settings_factory):
    claude.add(Reply.answer('{"headline": "x", "key_changes": [', match=only_item("7")))
    result = summarizer(claude, settings_factory).summarize(small_diff())
    assert "7" in result.items and result.invalid_outputs == {}
    repair = [r.body for r in claude.message_requests() if len(r.body["messages"]) == 3]
    assert len(repair) == 1 and repair[0]["messages"][1]["role"] == "assistant"
    assert "not usable" in repair[0]["messages"][2]["content"]


def test_schema_violation_twice_is_recorded_not_raised(claude, settings_factory):
    bad = json.dumps({"headline": "x", "key_changes": [{"summary": "s", "change_type": "exploded", "materiality": "high", "evidence": "e"}],
                      "new_risks": [], "removed_risks": []})
    claude.add(Reply.answer(bad, match=only_item("7")), Reply.answer(bad, match=only_item("7")))
    result = summarizer(claude, settings_factory).summarize(small_diff())
    assert "7" not in result.items and "change_type" in result.invalid_outputs["7"]
    assert "1A" in result.items


def test_max_tokens_stop_is_retried_with_more_room(claude, settings_factory):
    claude.add(Reply.max_tokens(match=only_item("1A")))
    result = summarizer(claude, settings_factory, AI_MAX_OUTPUT_TOKENS_PER_ITEM="1000").summarize(small_diff())
    assert "1A" in result.items
    budgets = [r.body["max_tokens"] for r in claude.message_requests() if only_item("1A")(r.body)]
    assert budgets == [1000, 1500]


def test_bad_request_is_not_retried(claude, settings_factory):
    claude.add(Reply.error(400, "messages: at least one message is required", match=only_item("7")))
    result = summarizer(claude, settings_factory).summarize(small_diff())
    assert "BadRequestError (HTTP 400)" == result.failures["7"]
    assert sum(1 for r in claude.message_requests() if only_item("7")(r.body)) == 1


def test_a_tool_use_block_is_not_an_answer(claude, settings_factory):
    """Only text blocks carry the structured output; a stray tool_use block is repaired like bad JSON."""
    claude.add(Reply.tool_use(match=only_item("7")))
    result = summarizer(claude, settings_factory).summarize(small_diff())
    assert "7" in result.items and result.invalid_outputs == {}
    assert sum(1 for r in claude.message_requests() if only_item("7")(r.body)) == 2


def test_refusal_is_a_failure(claude, settings_factory):
    claude.add(Reply.refusal(match=only_item("7")))
    result = summarizer(claude, settings_factory).summarize(small_diff())
    assert "refusal" in result.failures["7"]


# -- faithfulness ----------------------------------------------------------------------------------


def test_unfaithful_answer_is_recorded(claude, settings_factory):
    answer = json.dumps({
        "headline": "Net sales rose to $412.7 billion.",
        "key_changes": [{"summary": "Sales grew", "change_type": "numbers", "materiality": "high",
                         "evidence": "Net sales were $412.7 billion for the year."}],
        "new_risks": [], "removed_risks": [],
    })
    claude.add(Reply.answer(answer, match=only_item("7")))
    result = summarizer(claude, settings_factory, ANTHROPIC_SMALL_MODEL="none").summarize(small_diff())
    misses = result.items["7"].faithfulness_misses
    assert any("evidence not found" in m for m in misses) and "number not in the filing: 412.7" in misses


def test_small_model_is_escalated_when_unfaithful(claude, settings_factory):
    answer = json.dumps({"headline": "Up 99%.", "key_changes": [], "new_risks": [], "removed_risks": []})
    claude.add(Reply.answer(answer, match=lambda b: b["model"] == "claude-haiku-5-5" and only_item("7")(b)))
    result = summarizer(claude, settings_factory).summarize(small_diff())
    models = [r.body["model"] for r in claude.message_requests() if only_item("7")(r.body)]
    assert models == ["claude-haiku-5-5", "claude-sonnet-5-5"]
    assert result.items["7"].model == "claude-sonnet-5-5" and result.items["7"].faithfulness_misses == ()


def test_a_summary_may_name_its_item_and_repeat_the_counts_it_was_shown(claude, settings_factory):
    """Found in review: "Item 7" and "1 paragraph was reworded" were numbers "not in the filing",
    so a faithful summary was re-asked of the large model and then refunded as AI_UNFAITHFUL."""
    from quality_validator import check_summaries

    answer = json.dumps({
        "headline": "Item 7 now credits wearables, as well as services, for the growth in net sales.",
        "key_changes": [{"summary": "Net sales rose from $391.0 billion to $394.3 billion; 1 paragraph was reworded.",
                         "change_type": "numbers", "materiality": "medium", "evidence": "Net sales were $394.3 billion for the year"}],
        "new_risks": [], "removed_risks": [],
    })
    claude.add(Reply.answer(answer, match=only_item("7")))
    diff = small_diff()
    result = summarizer(claude, settings_factory).summarize(diff)
    assert result.items["7"].faithfulness_misses == ()
    assert [r.body["model"] for r in claude.message_requests() if only_item("7")(r.body)] == ["claude-haiku-5-5"]
    assert not [i for i in check_summaries(diff, result) if i.code == "AI_UNFAITHFUL"]


def test_evidence_that_quotes_nothing_is_a_miss():
    summary = ItemSummary("7", "Sales grew", (KeyChange("An SEC investigation is pending", "added", "high", "..."),))
    assert check_faithfulness(summary, "Net sales were $394.3 billion.") == ("evidence quotes nothing: '...'",)


def test_follow_ups_stop_at_twice_the_report_budget(claude, settings_factory):
    """Found in review: repairs and re-asks were never counted against the input budget. With every
    small-model answer unfaithful and every large-model answer cut off, each item cost three full
    prompts, and a report about 3x its budget."""
    older, newer = {}, {}
    for item in ("1", "1A", "2", "3", "7"):
        older[item] = [f"In {item} paragraph {n} the company describes exposure {n} to suppliers in plain words." for n in range(30)]
        newer[item] = [f"In {item} paragraph {n} the company now describes exposure {n} to customers in other words." for n in range(30)]
    diff = diff_filings(filing(older), filing(newer))
    unfaithful = json.dumps({"headline": "Up 99%.", "key_changes": [], "new_risks": [], "removed_risks": []})
    for _ in range(10):
        claude.add(Reply.answer(unfaithful, match=lambda b: b["model"] == "claude-haiku-5-5"))
    for _ in range(30):
        claude.add(Reply.max_tokens(match=lambda b: b["model"] == "claude-sonnet-5-5"))
    budget = 8000
    result = summarizer(claude, settings_factory, AI_MAX_INPUT_TOKENS_PER_REPORT=str(budget), AI_MAX_CONCURRENCY="1").summarize(diff)
    spent = sum(u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens for u in result.usage)
    denied_repair = any("no input budget left" in reason for reason in result.invalid_outputs.values())
    denied_escalation = any(s.model == "claude-haiku-5-5" and s.faithfulness_misses for s in result.items.values())
    assert denied_repair or denied_escalation
    assert spent <= 2 * budget * 1.15  # follow-ups are reserved by estimate


def test_faithfulness_normalises_quotes_and_spaces():
    source = "We rely on \u201cthird-party\u201d suppliers\u2014mainly in Asia.\nRevenue was $1,234.50 million."
    summary = ItemSummary("1A", "Revenue of $1,234.5 million", (KeyChange("s", "modified", "low", 'We rely on "third-party"  suppliers-mainly in Asia'),))
    assert check_faithfulness(summary, source) == ()
    assert numbers_in("$1,234.50 and 12% and 2024.") == {"1234.5", "12", "2024"}


# -- budgets ---------------------------------------------------------------------------------------


def test_report_budget_leaves_out_low_ranked_items_and_says_so():
    diff = small_diff(extra_items=5)
    plan = plan_requests(diff, report_budget=3000, item_budget=5000, system_tokens=500)
    sent = {r.item for r in plan.items}
    assert sent and len(sent) < 7
    assert {o.item for o in plan.omitted} == {d.item for d in diff.items.values() if d.changed} - sent
    assert all(o.reason for o in plan.omitted)


def test_item_budget_truncates_and_marks_it():
    long_old = [f"Paragraph {n} of the older risk factors says something specific about exposure number {n}." for n in range(200)]
    long_new = [f"Paragraph {n} of the newer risk factors says something different about exposure number {n}." for n in range(200)]
    diff = diff_filings(filing({"1A": long_old}), filing({"1A": long_new}))
    plan = plan_requests(diff, report_budget=50000, item_budget=1500)
    request = plan.items[0]
    assert request.truncated and request.sections_sent < request.sections_total and request.estimated_tokens <= 1600


def test_budgeted_report_is_passed_to_claude(claude, settings_factory):
    result = summarizer(claude, settings_factory, AI_MAX_INPUT_TOKENS_PER_REPORT="1500").summarize(small_diff(extra_items=5))
    assert result.omitted_items and len(result.items) < 7


# -- cost ------------------------------------------------------------------------------------------


def test_an_unlisted_model_is_priced_as_the_dearest_listed_one():
    dearest = max(p.input + p.output for p in PRICES.values())
    assert Usage("claude-fable-5-2", input_tokens=1_000_000, output_tokens=1_000_000).cost_usd == pytest.approx(dearest)


def test_cost_arithmetic():
    assert Usage("claude-sonnet-5-5", input_tokens=1_000_000).cost_usd == pytest.approx(2.00)
    assert Usage("claude-sonnet-5-5", output_tokens=1_000_000).cost_usd == pytest.approx(10.00)
    assert Usage("claude-sonnet-5-5", cache_creation_input_tokens=1_000_000).cost_usd == pytest.approx(2.50)
    assert Usage("claude-sonnet-5-5", cache_read_input_tokens=1_000_000).cost_usd == pytest.approx(0.20)
    mixed = Usage("claude-sonnet-5-5", input_tokens=20_000, output_tokens=3_000, cache_read_input_tokens=5_000)
    assert mixed.cost_usd == pytest.approx(0.04 + 0.03 + 0.001)
    assert Usage("claude-haiku-5-5", input_tokens=1_000_000).cost_usd == pytest.approx(2.50 / 5)  # long-context tier
    assert Usage("claude-haiku-5-5", input_tokens=50_000).cost_usd == pytest.approx(0.005)
    assert Usage("some-future-model", input_tokens=1_000_000).cost_usd > 0  # never free
    assert "claude-sonnet-5-5" in PRICES and mixed.total_tokens == 28_000


def test_report_cost_matches_usage_from_the_server(claude, settings_factory):
    result = summarizer(claude, settings_factory, ANTHROPIC_SMALL_MODEL="none").summarize(small_diff())
    served = [r.usage for r in claude.message_requests()]
    tokens = sum(u["input_tokens"] + u["output_tokens"] + u["cache_creation_input_tokens"] + u["cache_read_input_tokens"] for u in served)
    expected = sum(u["input_tokens"] * 2 + u["output_tokens"] * 10 + u["cache_creation_input_tokens"] * 2.5 + u["cache_read_input_tokens"] * 0.2 for u in served) / 1e6
    assert result.total_tokens == tokens and result.cost_usd == pytest.approx(expected)
    assert result.to_dict()["usage"]["requests"] == 3


def test_a_prefix_is_marked_for_caching_only_when_the_model_would_cache_it():
    """Found in review: cache_control sat on a ~400-token system prompt, below every model's minimum,
    so caching never happened in production (a test had lowered the stand-in's minimum)."""
    short = request_body("claude-sonnet-5-5", SYSTEM_PROMPT, [{"role": "user", "content": "x"}], ITEM_SCHEMA, 100)
    assert "cache_control" not in short["system"][0]
    long = request_body("claude-sonnet-5-5", SYSTEM_PROMPT * 3, [{"role": "user", "content": "x"}], ITEM_SCHEMA, 100)
    assert long["system"][0]["cache_control"] == {"type": "ephemeral"}
    haiku = request_body("claude-haiku-5-5", SYSTEM_PROMPT * 3, [{"role": "user", "content": "x"}], ITEM_SCHEMA, 100)
    assert "cache_control" not in haiku["system"][0]  # 2,048 is Haiku 5.5's minimum here


def test_a_long_enough_prefix_is_cached_by_the_api_and_read_on_the_next_request():
    import anthropic

    server = AnthropicStandIn().start()  # each model's real minimum
    client = anthropic.Anthropic(api_key="k", base_url=server.base_url, max_retries=0)
    body = request_body("claude-sonnet-5-5", SYSTEM_PROMPT * 8, [{"role": "user", "content": "summarize"}], ITEM_SCHEMA, 200)
    first, second = client.messages.create(**body), client.messages.create(**body)
    assert first.usage.cache_creation_input_tokens > 0 and second.usage.cache_read_input_tokens > 0
    server.stop()


def test_effort_only_for_models_that_take_it_and_retired_models_are_refused():
    import anthropic

    old = request_body("claude-haiku-4-5", "s", [{"role": "user", "content": "x"}], ITEM_SCHEMA, 100)
    assert "effort" not in old["output_config"]
    server = AnthropicStandIn().start()
    client = anthropic.Anthropic(api_key="k", base_url=server.base_url, max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="effort"):  # what the real API answers
        client.messages.create(**{**old, "output_config": {**old["output_config"], "effort": "low"}})
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(**{**old, "model": "claude-sonnet-4-5"})
    server.stop()


def test_a_retired_model_is_refused_at_start(settings_factory):
    from exceptions import ConfigError

    with pytest.raises(ConfigError, match="retired on 2026-11-30"):
        settings_factory(ANTHROPIC_API_KEY="k", ANTHROPIC_MODEL="claude-sonnet-4-5")


@pytest.mark.parametrize("status", [408, 409])
def test_408_and_409_are_retried_as_the_sdk_does(claude, settings_factory, status):
    claude.add(Reply.error(status, "try again", match=only_item("7")))
    result = summarizer(claude, settings_factory).summarize(small_diff())
    assert result.failures == {} and "7" in result.items


def test_a_spend_limit_429_is_not_retried(claude, settings_factory):
    body = {"type": "error", "error": {"type": "rate_limit_error", "message": "spend limit reached",
                                       "details": {"error_code": "enforced_spend_limit_reached"}}}
    claude.add(Reply(status=429, body=body, headers={"retry-after": "0"}, match=only_item("7")))
    result = summarizer(claude, settings_factory).summarize(small_diff())
    assert "7" in result.failures and "after" not in result.failures["7"]
    assert sum(1 for r in claude.message_requests() if only_item("7")(r.body)) == 1


def test_the_executive_request_reads_stop_reason(claude, settings_factory):
    is_executive = lambda body: body["system"][0]["text"] == EXECUTIVE_SYSTEM_PROMPT  # noqa: E731
    claude.add(Reply.refusal(match=is_executive))
    result = summarizer(claude, settings_factory).summarize(small_diff())
    assert "refusal" in result.failures[EXECUTIVE]
    assert sum(1 for r in claude.message_requests() if is_executive(r.body)) == 1  # a refusal is not asked again
    claude.add(Reply.max_tokens(match=is_executive))
    again = summarizer(claude, settings_factory).summarize(small_diff())
    executive = [r for r in claude.message_requests() if is_executive(r.body)][-2:]
    assert EXECUTIVE not in again.failures and executive[1].body["max_tokens"] > executive[0].body["max_tokens"]


# -- parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, problem",
    [
        ("not json", "not valid JSON"),
        ("[]", "not a JSON object"),
        ('{"headline": "h"}', "missing fields"),
        ('{"headline": "", "key_changes": [], "new_risks": [], "removed_risks": []}', "headline"),
        ('{"headline": "h", "key_changes": [{"summary": "s"}], "new_risks": [], "removed_risks": []}', "key_changes[0]"),
        ('{"headline": "h", "key_changes": [], "new_risks": [1], "removed_risks": []}', "new_risks"),
    ],
)
def test_parse_rejects_bad_answers(text, problem):
    summary, found = parse_item_summary("1A", text)
    assert summary is None and problem in found


# -- offline ---------------------------------------------------------------------------------------


def test_offline_summary_is_labelled_and_quotes_verbatim():
    diff = small_diff(extra_items=2)
    result = OfflineSummarizer().summarize(diff)
    assert result.provider == "offline" and result.cost_usd == 0 and result.total_tokens == 0
    assert "1A" in result.items and result.executive_summary
    source = " ".join(RISK_NEW + RISK_OLD + MDNA_NEW + MDNA_OLD)
    for summary in result.items.values():
        for change in summary.key_changes:
            assert change.evidence in source or summary.item not in ("1A", "7")


def test_offline_on_real_corpus_pairs(corpus):
    import json as _json

    from section_extractor import extract_items

    manifest = _json.loads((corpus / "manifest.json").read_text())
    for pair in manifest["pairs"][:4]:
        older = extract_items((corpus / pair["older"]).read_bytes())
        newer = extract_items((corpus / pair["newer"]).read_bytes())
        diff = diff_filings(older, newer)
        result = OfflineSummarizer().summarize(diff)
        assert result.items, pair["ticker"]
        for item, summary in result.items.items():
            source = older.items[item].text + "\n" + newer.items[item].text
            for change in summary.key_changes:  # the offline headline states diff counts, not filing numbers
                assert change.evidence and change.evidence in source, (pair["ticker"], item)


def test_metrics_count_the_cost_each_usage_states():
    """The metrics read the cost from the usage, so the report's cost and the counter agree."""
    from metrics import Metrics

    metrics = Metrics()
    usage = [Usage("claude-sonnet-5-5", input_tokens=20_000, output_tokens=3_000), Usage("claude-haiku-5-5", input_tokens=1_000_000)]
    metrics.record_usage(usage)
    sample = metrics.registry.get_sample_value
    assert sample("claude_cost_usd_total", {"model": "claude-sonnet-5-5"}) == pytest.approx(0.07)
    assert sample("claude_cost_usd_total", {"model": "claude-haiku-5-5"}) == pytest.approx(0.5)  # long-context tier
    assert sample("claude_tokens_total", {"model": "claude-haiku-5-5", "kind": "input"}) == 1_000_000
