"""A local Anthropic Messages API, driven by the real `anthropic` SDK through `base_url`.

It speaks the wire format of `POST /v1/messages` (and `/v1/messages/count_tokens`) as the SDK
2.12 sends and parses it: request validation the real API performs (required fields, a final user
turn, no sampling parameters, no forced tool use on Sonnet/Opus 5.5, a well-formed
`output_config.format`), `usage` with cache counters, thinking blocks before the answer, error
bodies `{"type": "error", "error": {...}, "request_id"}` with `request-id` and `retry-after`
headers for 400/401/429/500/529, slow answers and `max_tokens` stops.

By default it answers a structured-output request with JSON that satisfies the requested schema,
quoting sentences of the prompt verbatim where the schema asks for `evidence`, so the caller's
faithfulness check passes. `script` replaces answers one by one (`Reply.error(429, ...)`,
`Reply.text(...)`, `Reply.max_tokens()`, ...). Tokens are counted at ~3.8 characters per token.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import claude_models

FORCED_TOOL_REJECTED = ("claude-sonnet-5-5", "claude-opus-5-5", "claude-fable-5-1")
SAMPLING = ("temperature", "top_p", "top_k")
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    529: "overloaded_error",
}


def count_tokens(text: str, model: str | None = None) -> int:
    """What a model's tokenizer counts: Haiku 5.5's counts about 30% more than the others."""
    if not text:
        return 0
    ratio = 3.8 / (1.3 if model == "claude-haiku-5-5" else 1.0)
    return max(1, round(len(text) / ratio))


@dataclass
class Reply:
    """One scripted answer. `match` (optional) picks which request it answers."""

    status: int = 200
    body: dict | None = None  # full JSON body to send
    text: str | None = None  # the answer's text block
    stop_reason: str = "end_turn"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    match: Callable[[dict], bool] | None = None

    @classmethod
    def error(cls, status: int, message: str = "error", retry_after: str | None = None, retry_after_ms: str | None = None,
              should_retry: str | None = None, **kw) -> "Reply":
        headers = {}
        if retry_after is not None:
            headers["retry-after"] = retry_after
        if retry_after_ms is not None:
            headers["retry-after-ms"] = retry_after_ms
        if should_retry is not None:
            headers["x-should-retry"] = should_retry
        body = {"type": "error", "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message}}
        return cls(status=status, body=body, headers=headers, **kw)

    @classmethod
    def answer(cls, text: str, **kw) -> "Reply":
        return cls(text=text, **kw)

    @classmethod
    def max_tokens(cls, **kw) -> "Reply":
        return cls(text='{"headline": "Cut off', stop_reason="max_tokens", **kw)

    @classmethod
    def tool_use(cls, **kw) -> "Reply":
        """A tool_use block instead of the text answer (what a model does when handed tools)."""
        return cls(text="", stop_reason="tool_use", **kw)

    @classmethod
    def refusal(cls, **kw) -> "Reply":
        return cls(text="", stop_reason="refusal", **kw)


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict
    status: int
    usage: dict | None
    started: float
    finished: float


class AnthropicStandIn:
    def __init__(self, *, latency: float = 0.0, thinking_tokens: int = 0, min_cache_tokens: int | None = None, cache_ttl: float = 300.0,
                 answer_words: int = 0, array_items: int = 2):
        self.latency = latency
        self.answer_words = answer_words  # >0: write answers of a real model's length (bench/bench_ai.py)
        self.array_items = array_items
        self.thinking_tokens = thinking_tokens
        self.min_cache_tokens = min_cache_tokens  # None: each model's own minimum (claude_models), as the API does
        self.cache_ttl = cache_ttl
        self.script: list[Reply] = []
        self.requests: list[RecordedRequest] = []
        self._cache: dict[str, float] = {}  # prefix hash -> expiry (available once its writer finished)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> "AnthropicStandIn":
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                standin._handle(self)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def message_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == "/v1/messages"]

    # -- handling ----------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        path = handler.path.split("?")[0]
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        status, payload, headers, usage, delay = self._respond(path, handler.headers, body)
        if delay:
            time.sleep(delay)
        finished = time.monotonic()
        if status == 200 and usage is not None:
            self._remember_cache(body, finished)
        with self._lock:
            self.requests.append(RecordedRequest(path, dict(handler.headers.items()), body or {}, status, usage, started, finished))
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("request-id", payload.get("request_id") or f"req_{uuid.uuid4().hex[:24]}")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _respond(self, path: str, headers, body):
        request_id = f"req_{uuid.uuid4().hex[:24]}"

        def error(status: int, message: str, extra_headers: dict | None = None):
            payload = {"type": "error", "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message}, "request_id": request_id}
            return status, payload, extra_headers or {}, None, self.latency

        auth = headers.get("Authorization", "")
        if not (auth.startswith("Bearer ") and len(auth) > 7) and not headers.get("x-api-key"):
            return error(401, "invalid x-api-key")
        if path not in ("/v1/messages", "/v1/messages/count_tokens"):
            return error(404, f"no route {path}")
        if isinstance(body, dict) and isinstance(body.get("model"), str) and claude_models.retired(body["model"], date.today().isoformat()):
            return error(404, f"model: {body['model']}")  # the API answers a retired model as an unknown one
        problem = validate_request(body, count_only=path.endswith("count_tokens"))
        if problem:
            return error(400, problem)
        if path.endswith("count_tokens"):
            return 200, {"input_tokens": _prompt_tokens(body)}, {}, None, 0.0

        reply = self._next_reply(body)
        delay = self.latency + (reply.delay if reply else 0.0)
        if reply is not None and reply.body is not None and reply.status != 200:
            payload = {**reply.body, "request_id": request_id}
            return reply.status, payload, reply.headers, None, delay

        text = reply.text if reply is not None and reply.text is not None else default_answer(body, self.answer_words, self.array_items)
        stop_reason = reply.stop_reason if reply is not None else "end_turn"
        usage = self._usage(body, text)
        content = []
        if self.thinking_tokens:
            content.append({"type": "thinking", "thinking": "Considering the changes.", "signature": "sig_" + uuid.uuid4().hex})
        if stop_reason == "tool_use" or (body.get("tools") and reply is None):
            tool = body["tools"][0] if body.get("tools") else {"name": "answer", "input_schema": {"type": "object"}}
            schema = tool.get("input_schema", {"type": "object"})
            content.append({"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": tool["name"],
                            "input": _fill(schema, "", _quotable(body), iter(range(10_000)), schema, 0, 2)})
            stop_reason = "tool_use"
        elif stop_reason != "refusal":
            content.append({"type": "text", "text": text, "citations": None})
        payload = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "stop_details": {"type": "refusal", "category": "general_harms", "explanation": "declined"} if stop_reason == "refusal" else None,
            "usage": usage,
        }
        return 200, payload, dict(reply.headers) if reply else {}, usage, delay

    def _next_reply(self, body: dict) -> Reply | None:
        with self._lock:
            for i, reply in enumerate(self.script):
                if reply.match is None or reply.match(body):
                    return self.script.pop(i)
        return None

    # -- usage and caching -------------------------------------------------------------------------

    def _cache_prefix(self, body: dict) -> tuple[str | None, int]:
        system = body.get("system")
        if not isinstance(system, list):
            return None, 0
        last = max((i for i, b in enumerate(system) if isinstance(b, dict) and b.get("cache_control")), default=None)
        if last is None:
            return None, 0
        text = "".join(b.get("text", "") for b in system[: last + 1])
        tokens = count_tokens(text, body["model"])
        minimum = self.min_cache_tokens if self.min_cache_tokens is not None else claude_models.model(body["model"]).min_cache_tokens
        if tokens < minimum:
            return None, 0
        return hashlib.sha256((body["model"] + text).encode()).hexdigest(), tokens

    def _usage(self, body: dict, answer: str) -> dict:
        total = _prompt_tokens(body)
        key, cached = self._cache_prefix(body)
        now = time.monotonic()
        cache_read = cache_write = 0
        if key is not None:
            with self._lock:
                hit = self._cache.get(key, 0) > now
            cache_read, cache_write = (cached, 0) if hit else (0, cached)
        output = count_tokens(answer) + self.thinking_tokens
        return {
            "input_tokens": total - cache_read - cache_write,
            "output_tokens": output,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "cache_creation": {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0},
            "output_tokens_details": {"thinking_tokens": self.thinking_tokens},
            "server_tool_use": None,
            "service_tier": "standard",
        }

    def _remember_cache(self, body: dict, finished: float) -> None:
        key, _ = self._cache_prefix(body)
        if key is not None:
            with self._lock:
                self._cache[key] = finished + self.cache_ttl


def _all_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


def _prompt_tokens(body: dict) -> int:
    text = _all_text(body.get("system")) + "".join(_all_text(m.get("content")) for m in body.get("messages", []))
    if isinstance(body.get("output_config"), dict):
        text += json.dumps(body["output_config"])
    return count_tokens(text, body.get("model"))


def validate_request(body: Any, count_only: bool = False) -> str | None:
    """What the real API would answer 400 for; None when the request is acceptable."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    for name in ("model", "messages") + (() if count_only else ("max_tokens",)):
        if name not in body:
            return f"{name}: Field required"
    if not isinstance(body["model"], str) or not body["model"]:
        return "model: must be a string"
    if not count_only and (not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1):
        return "max_tokens: must be a positive integer"
    for name in SAMPLING:
        if name in body:
            return f"{name} is not supported for model {body['model']}; remove it"
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for i, message in enumerate(messages):
        expected = "user" if i % 2 == 0 else "assistant"
        if not isinstance(message, dict) or message.get("role") != expected:
            return f"messages.{i}.role: roles must alternate, starting with user"
        if not _all_text(message.get("content")).strip():
            return f"messages.{i}.content: must not be empty"
    if messages[-1]["role"] != "user":
        return "this model does not support assistant message prefill; the conversation must end with a user message"
    tool_choice = body.get("tool_choice")
    if isinstance(tool_choice, dict) and tool_choice.get("type") in ("any", "tool") and body["model"] in FORCED_TOOL_REJECTED:
        return f"forced tool use is not supported by {body['model']}"
    system = body.get("system")
    if system is not None and not isinstance(system, (str, list)):
        return "system: must be a string or a list of text blocks"
    if isinstance(system, list):
        breakpoints = sum(1 for b in system if isinstance(b, dict) and b.get("cache_control"))
        if breakpoints > 4:
            return "a maximum of 4 blocks with cache_control may be provided"
        for b in system:
            if not isinstance(b, dict) or b.get("type") != "text" or not isinstance(b.get("text"), str):
                return "system: blocks must be text blocks"
            if b.get("cache_control") and b["cache_control"].get("type") != "ephemeral":
                return "cache_control.type must be 'ephemeral'"
    config = body.get("output_config")
    if config is not None:
        if not isinstance(config, dict):
            return "output_config: must be an object"
        if "effort" in config and config["effort"] not in ("low", "medium", "high", "xhigh", "max"):
            return "output_config.effort: invalid value"
        if "effort" in config and body["model"] in claude_models.MODELS and not claude_models.model(body["model"]).takes_effort:
            return f"output_config.effort: this model does not support effort ({body['model']})"
        fmt = config.get("format")
        if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict)):
            return "output_config.format: must be {type: json_schema, schema: {...}}"
        if fmt is not None and fmt["schema"].get("type") != "object":
            return "output_config.format.schema: the root must be an object"
    return None


# --------------------------------------------------------------------------------------------------
# The default answer: valid JSON for the requested schema, quoting the prompt verbatim for evidence
# --------------------------------------------------------------------------------------------------

def _quotable(body: dict) -> list[str]:
    """Whole sentences of the prompt's paragraphs (not its headers, never a redline), to quote as evidence."""
    text = _all_text(body["messages"][0].get("content")) if body.get("messages") else ""  # the prompt, not a repair note
    lines = [
        line for line in text.splitlines()
        if "[-" not in line and "{+" not in line and not re.match(r"\s*([A-Z]{2,}\b|\[\d+\]|Paragraphs:|- )", line)
    ]
    sentences = [s.strip() for line in lines for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", line) if len(s.strip()) >= 20]
    return [s for s in sentences if not re.search(r"\d", s)] or sentences or ["No change."]


def default_answer(body: dict, words: int = 0, array_items: int = 2) -> str:
    fmt = (body.get("output_config") or {}).get("format")
    if not fmt:
        return "Summary."
    quotes = _quotable(body)
    counter = iter(range(10_000))
    return json.dumps(_fill(fmt["schema"], "", quotes, counter, fmt["schema"], words, array_items))


_FILLER = ("the company reported a change in this disclosure compared with the prior year which affects how investors "
           "should read its exposure and outlook for the coming period").split()


def _fill(schema: dict, name: str, quotes: list[str], counter, root: dict, words: int, array_items: int):
    if "$ref" in schema:
        ref = schema["$ref"].split("/")[-1]
        schema = root.get("$defs", root.get("definitions", {}))[ref]
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        return {key: _fill(sub, key, quotes, counter, root, words, array_items) for key, sub in schema.get("properties", {}).items()}
    if kind == "array":
        wanted = array_items if "change" in name else min(array_items, 1 if words else array_items)  # a real answer lists few risks
        count = max(schema.get("minItems", 0), min(wanted, schema.get("maxItems", wanted)))
        return [_fill(schema.get("items", {"type": "string"}), name, quotes, counter, root, words, array_items) for _ in range(count)]
    if kind == "string":
        n = next(counter)
        if "evidence" in name or "quote" in name:
            return quotes[n % len(quotes)]
        if words:
            length = max(4, words // 3) if "risk" in name else words  # risk titles are short
            return " ".join(_FILLER[(n + i) % len(_FILLER)] for i in range(length)).capitalize() + "."
        return f"A {name.replace('_', ' ')} written from the changes shown."
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    return None
