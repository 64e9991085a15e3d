"""Anthropic Messages API through the official SDK, one call at a time (SDK retries off)."""

from __future__ import annotations

import json
import logging
import time
import warnings
from typing import Any

import anthropic
from anthropic.types import Message

from watcher.config import BackendConfig
from watcher.providers.base import (
    Completion,
    ProviderError,
    Request,
    cost_usd,
    flatten_content,
    normalise_finish_reason,
    sim_headers,
)
from watcher.providers.failures import bad_response, body_text, safe_url, sdk_call
from watcher.providers.http import anthropic_base_url, http_client, timeout_of
from watcher.providers.quota_headers import parse_quota
from watcher.run.records import FAIL_SERVER

log = logging.getLogger("watcher.providers")


def to_anthropic_tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if not tools:
        return None
    out = []
    for t in tools:
        if "input_schema" in t:
            out.append(t)
        else:
            fn = t.get("function", t)  # accept OpenAI-shaped tools too
            out.append({"name": fn["name"], "description": fn.get("description", ""),
                        "input_schema": fn.get("parameters") or {"type": "object", "properties": {}}})
    return out


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, cfg: BackendConfig, api_key: str) -> None:
        self.cfg = cfg
        self.model = cfg.model
        self._key = api_key
        base_url, warning = anthropic_base_url(cfg.base_url)
        if warning:
            log.warning("%s", warning)
        timeout = timeout_of(anthropic, cfg)
        self.client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url or None, max_retries=0, timeout=timeout,
            default_headers=dict(cfg.extra_headers) or None,
            http_client=http_client(anthropic, cfg),
        )
        self.url = safe_url(f"{str(self.client.base_url).rstrip('/')}/v1/messages")
        # The SDK imports a resource on first use (0.1-0.2 s): here, not in the first calls in flight.
        self._create = self.client.messages.with_raw_response.create

    def _params(self, req: Request) -> dict[str, Any]:
        system = req.system
        messages: list[dict[str, Any]] = []
        for m in req.messages:
            if m.get("role") == "system":  # the Messages API takes the system prompt separately
                system = "\n\n".join(x for x in (system, flatten_content(m.get("content"))) if x)
            else:
                messages.append(m)
        params: dict[str, Any] = {"model": self.model, "max_tokens": req.max_tokens, "messages": messages}
        if system:
            params["system"] = system
        tools = to_anthropic_tools(req.tools)
        if tools:
            params["tools"] = tools
        headers = sim_headers(self.cfg.simulated, req)
        if headers:
            params["extra_headers"] = headers
        if req.thinking_budget > 0:
            # The API needs max_tokens > budget_tokens and refuses a temperature other than 1 with thinking.
            params["thinking"] = {"type": "enabled", "budget_tokens": req.thinking_budget}
            if req.max_tokens <= req.thinking_budget:
                params["max_tokens"] = req.thinking_budget + req.max_tokens
        else:
            # This SDK version has no typed `temperature` argument; the API still accepts it.
            params["extra_body"] = {"temperature": req.temperature}
        return params

    async def complete(self, req: Request) -> Completion:
        params = self._params(req)
        t0 = time.monotonic()
        key, url = self._key, self.url

        async def call() -> tuple[Any, str]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "thinking.type=enabled is deprecated" for some models
                raw = await self._create(**params)
            return raw, await raw.text()  # the SDK's async response reads its body on await

        # The whole call under one timeout, not only each read: a server that drips bytes never trips a
        # read timeout.
        raw, text = await sdk_call(anthropic, anthropic.AnthropicError, url, key, self.cfg.timeout_s, call)
        latency = time.monotonic() - t0
        quota = parse_quota(raw.headers)
        url = safe_url(raw.http_request.url) or url
        try:
            data = json.loads(text)
        except ValueError:
            raise bad_response(url, "body is not JSON" if text.strip() else "empty body", text, key) from None
        if not isinstance(data, dict):
            raise bad_response(url, "body is not a JSON object", text, key)
        if data.get("type") == "error":  # an error event with a 200 (some proxies)
            raise ProviderError(f"{FAIL_SERVER} 200 {url}: {body_text(data, key)}", kind=FAIL_SERVER,
                                status=200, url=url)
        if not isinstance(data.get("content"), list):
            raise bad_response(url, "no content in the response", text, key)
        try:
            msg = await raw.parse()
            if not isinstance(msg, Message):
                raise TypeError(type(msg).__name__)
            comp = self._completion(msg, latency, bool(data.get("usage")))
            comp.quota = quota
            return comp
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as e:
            raise bad_response(url, f"not a message ({type(e).__name__})", text, key) from None

    def _completion(self, msg: Message, latency: float, usage_known: bool) -> Completion:
        texts: list[str] = []
        thoughts: list[str] = []
        tool_calls: list[dict[str, Any]] = []
        for block in msg.content or []:
            btype = getattr(block, "type", "")
            if btype == "text":
                texts.append(block.text)
            elif btype == "thinking":
                thoughts.append(block.thinking)
            elif btype == "tool_use":
                tool_calls.append({"id": block.id, "name": block.name, "arguments": dict(block.input or {})})
        raw = msg.stop_reason or ""
        usage = getattr(msg, "usage", None) if usage_known else None
        # Anthropic's input_tokens leaves out the cached part: add it, so `input` means the same for
        # every backend (all input tokens) and the cache fields say which part was cached.
        cread = int(getattr(usage, "cache_read_input_tokens", 0) or 0)
        cwrite = int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
        tin = int(getattr(usage, "input_tokens", 0) or 0) + cread + cwrite
        tout = int(getattr(usage, "output_tokens", 0) or 0)
        cfg = self.cfg
        return Completion(
            text="".join(texts), reasoning="\n\n".join(thoughts) or None,
            finish_reason=normalise_finish_reason(raw), finish_reason_raw=raw,
            input_tokens=tin, output_tokens=tout, latency_s=latency,
            cost_usd=cost_usd(tin, tout, cfg.price_in, cfg.price_out, cache_read=cread, cache_write=cwrite,
                              read_mult=cfg.cache_read_mult, write_mult=cfg.price_cache_write),
            model=msg.model or self.model, tool_calls=tool_calls or None,
            cache_read_tokens=cread, cache_write_tokens=cwrite, usage_known=usage_known,
        )

    async def aclose(self) -> None:
        await self.client.close()
