"""Anthropic Messages API through the official SDK, one call at a time (SDK retries off)."""

from __future__ import annotations

import time
import warnings
from typing import Any

import anthropic

from watcher.config import BackendConfig
from watcher.providers.base import (
    Completion,
    ProviderError,
    Request,
    cost_usd,
    error_from_status,
    flatten_content,
    normalise_finish_reason,
    redact,
    sim_headers,
)
from watcher.run.records import FAIL_CONNECTION, FAIL_OTHER, FAIL_TIMEOUT


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
        self.client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=cfg.base_url or None, max_retries=0, timeout=cfg.timeout_s,
            default_headers=dict(cfg.extra_headers) or None,
        )

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
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "thinking.type=enabled is deprecated" for some models
                msg = await self.client.messages.create(**params)
        except anthropic.APITimeoutError:
            raise ProviderError(f"timeout after {self.cfg.timeout_s:g}s", kind=FAIL_TIMEOUT) from None
        except anthropic.APIConnectionError as e:
            raise ProviderError(f"connection error: {redact(str(e), self._key)[:160]}", kind=FAIL_CONNECTION) from None
        except anthropic.APIStatusError as e:
            raise error_from_status(e.status_code, e.response.headers, e.body, self._key) from None
        except anthropic.AnthropicError as e:
            raise ProviderError(f"{type(e).__name__}: {redact(str(e), self._key)[:160]}", kind=FAIL_OTHER,
                                retryable=False) from None
        latency = time.monotonic() - t0
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
        usage = msg.usage
        tin = int(getattr(usage, "input_tokens", 0) or 0)
        tout = int(getattr(usage, "output_tokens", 0) or 0)
        return Completion(
            text="".join(texts), reasoning="\n\n".join(thoughts) or None,
            finish_reason=normalise_finish_reason(raw), finish_reason_raw=raw,
            input_tokens=tin, output_tokens=tout, latency_s=latency,
            cost_usd=cost_usd(tin, tout, self.cfg.price_in, self.cfg.price_out),
            model=msg.model or self.model, tool_calls=tool_calls or None,
        )

    async def aclose(self) -> None:
        await self.client.close()
