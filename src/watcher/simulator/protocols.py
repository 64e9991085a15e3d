"""The OpenAI and Anthropic wire shapes: request bodies in, replies, usage and error bodies out.

Protocol facts only (roles, finish reasons, reasoning fields, token counts, truncation); what the
answer says is the responders' business (dispatch.py).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

from watcher.providers.base import SimMeta, flatten_content
from watcher.simulator.config import SimConfig
from watcher.simulator.reply import SimReply, SimRequest

ANTHROPIC, OPENAI = "anthropic", "openai"


def tokens(text: str, cpt: float) -> int:
    return int(math.ceil(len(text) / cpt)) if text else 0


def error_body(protocol: str, status: int, message: str, code: str | None = None,
               param: str | None = None) -> dict[str, Any]:
    if protocol == ANTHROPIC:
        etype = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                 429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
        return {"type": "error", "error": {"type": etype, "message": message}}
    etype = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
             429: "requests"}.get(status, "server_error")
    code = code or {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status)
    return {"error": {"message": message, "type": etype, "param": param, "code": code}}


def context_error(body: dict[str, Any], protocol: str, cfg: SimConfig) -> dict[str, Any] | None:
    """The 400 body a provider sends for a prompt over its context window, worded as each does;
    None when the prompt fits (or the simulator has no limit)."""
    if cfg.context_tokens <= 0:
        return None
    parts = [flatten_content(body.get("system")), *(flatten_content(m.get("content")) for m in _messages(body))]
    n = tokens("\n".join(p for p in parts if p), cfg.chars_per_token)
    if n <= cfg.context_tokens:
        return None
    if protocol == ANTHROPIC:
        return error_body(protocol, 400, f"prompt is too long: {n} tokens > {cfg.context_tokens} maximum")
    return error_body(protocol, 400, f"This model's maximum context length is {cfg.context_tokens} tokens. "
                      f"However, your messages resulted in {n} tokens. Please reduce the length of the messages.",
                      code="context_length_exceeded", param="messages")


def _cut(text: str, max_tokens: int, fault: str | None, cpt: float) -> tuple[str, bool]:
    """(text, truncated): the truncate fault cuts about half; a too-small max_tokens cuts to fit."""
    if fault == "truncate":
        keep = max(1, len(text) // 2)
        return text[:keep].rsplit(" ", 1)[0] if " " in text[:keep] else text[:keep], True
    if max_tokens > 0 and tokens(text, cpt) > max_tokens:
        return text[: int(max_tokens * cpt)], True
    return text, False


def _with_think_tag(req: SimRequest, reply: SimReply, text: str) -> str:
    # A model asked for a <think> section (and reasoning not natively) writes its plan inline.
    return f"<think>\n{reply.reasoning}\n</think>\n\n{text}" if req.meta.get("think") and text else text


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body.get("messages") or [] if isinstance(m, dict)]


def openai_request(body: dict[str, Any], meta: SimMeta) -> SimRequest:
    msgs = _messages(body)
    system = "\n\n".join(flatten_content(m.get("content")) for m in msgs if m.get("role") in ("system", "developer"))
    convo = [m for m in msgs if m.get("role") not in ("system", "developer")]
    return SimRequest(meta=meta, system=system or None, messages=convo, model=str(body.get("model") or "sim-model"),
                      tools=body.get("tools"))


def openai_reply(body: dict[str, Any], req: SimRequest, reply: SimReply, fault: str | None, cfg: SimConfig,
                 next_id: Callable[[], int]) -> dict[str, Any]:
    model = req.model
    native = ("reason" in model.lower() or bool(body.get("reasoning_effort"))
              or isinstance(body.get("reasoning"), dict))
    max_tokens = int(body.get("max_completion_tokens") or body.get("max_tokens") or 0)
    cpt = cfg.chars_per_token
    text = "" if fault == "empty" else reply.text
    reasoning = reply.reasoning if native else None
    if not native:
        text = _with_think_tag(req, reply, text)
    budget = max_tokens - tokens(reasoning or "", cpt) if max_tokens else 0
    text, truncated = _cut(text, max(1, budget) if max_tokens else 0, fault, cpt)
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if reasoning:
        message["reasoning_content"] = reasoning
    finish = "length" if truncated else "stop"
    if reply.tool_calls and not truncated and fault != "empty":
        message["tool_calls"] = [{"id": tc.get("id") or f"call_sim_{next_id()}", "type": "function",
                                  "function": {"name": tc["name"], "arguments": json.dumps(tc.get("arguments", {}))}}
                                 for tc in reply.tool_calls]
        finish = "tool_calls"
    prompt_text = "\n".join(flatten_content(m.get("content")) for m in _messages(body))
    out_tokens = tokens(text, cpt) + tokens(reasoning or "", cpt)
    usage: dict[str, Any] = {"prompt_tokens": tokens(prompt_text, cpt), "completion_tokens": out_tokens,
                             "total_tokens": tokens(prompt_text, cpt) + out_tokens}
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": tokens(reasoning, cpt)}
    return {"id": f"chatcmpl-sim-{next_id()}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish,
                                         "logprobs": None}],
            "usage": usage, "system_fingerprint": "watcher-sim"}


def anthropic_request(body: dict[str, Any], meta: SimMeta) -> SimRequest:
    return SimRequest(meta=meta, system=flatten_content(body.get("system")) or None, messages=_messages(body),
                      model=str(body.get("model") or "sim-model"), tools=body.get("tools"))


def anthropic_reply(body: dict[str, Any], req: SimRequest, reply: SimReply, fault: str | None, cfg: SimConfig,
                    next_id: Callable[[], int]) -> dict[str, Any]:
    thinking = body.get("thinking") if isinstance(body.get("thinking"), dict) else {}
    native = thinking.get("type") in ("enabled", "adaptive")
    max_tokens = int(body.get("max_tokens") or 0)
    cpt = cfg.chars_per_token
    text = "" if fault == "empty" else reply.text
    if not native:
        text = _with_think_tag(req, reply, text)
    content: list[dict[str, Any]] = []
    used = 0
    if native:
        content.append({"type": "thinking", "thinking": reply.reasoning,
                        "signature": f"sim-sig-{uuid.uuid4().hex}"})
        used = tokens(reply.reasoning, cpt)
    text, truncated = _cut(text, max(1, max_tokens - used) if max_tokens else 0, fault, cpt)
    if text:
        content.append({"type": "text", "text": text})
    stop = "max_tokens" if truncated else "end_turn"
    if reply.tool_calls and not truncated and fault != "empty":
        for tc in reply.tool_calls:
            content.append({"type": "tool_use", "id": tc.get("id") or f"toolu_sim_{next_id()}",
                            "name": tc["name"], "input": tc.get("arguments", {})})
        stop = "tool_use"
    prompt_text = "\n".join([req.system or "", *(flatten_content(m.get("content")) for m in req.messages)])
    return {"id": f"msg_sim_{next_id()}", "type": "message", "role": "assistant", "model": req.model,
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": tokens(prompt_text, cpt), "output_tokens": used + tokens(text, cpt)}}
