"""OpenAI-compatible chat completions (OpenAI, OpenRouter, vLLM...) through the official SDK, SDK retries off."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from watcher.config import BackendConfig
from watcher.providers.base import (
    Completion,
    ProviderError,
    Request,
    cost_usd,
    normalise_finish_reason,
    sim_headers,
)
from watcher.providers.failures import bad_response, body_text, safe_url, sdk_call
from watcher.providers.http import http_client, timeout_of
from watcher.providers.quota_headers import parse_quota
from watcher.run.records import FAIL_SERVER


def to_openai_tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if not tools:
        return None
    out = []
    for t in tools:
        if t.get("type") == "function" and "function" in t:
            out.append(t)
        else:
            out.append({"type": "function", "function": {
                "name": t["name"], "description": t.get("description", ""),
                "parameters": t.get("parameters") or t.get("input_schema") or {"type": "object", "properties": {}},
            }})
    return out


def _reasoning_of(message: Any) -> str | None:
    """`reasoning_content` (DeepSeek, vLLM, Kimi) or `reasoning` (OpenRouter); the SDK keeps them as extras."""
    extra = getattr(message, "model_extra", None) or {}
    for name in ("reasoning_content", "reasoning"):
        val = getattr(message, name, None) if name in type(message).model_fields else extra.get(name)
        if isinstance(val, str) and val.strip():
            return val
    return None


class OpenAIProvider:
    name = "openai"

    def __init__(self, cfg: BackendConfig, api_key: str) -> None:
        self.cfg = cfg
        self.model = cfg.model
        self._key = api_key
        timeout = timeout_of(openai, cfg)
        self.client = openai.AsyncOpenAI(
            api_key=api_key, base_url=cfg.base_url or None, max_retries=0, timeout=timeout,
            default_headers=dict(cfg.extra_headers) or None,
            http_client=http_client(openai, cfg),
        )
        self.url = safe_url(f"{str(self.client.base_url).rstrip('/')}/chat/completions")
        # The SDK imports a resource on first use (0.1-0.2 s): here, not in the first calls in flight.
        self._create = self.client.chat.completions.with_raw_response.create

    def _params(self, req: Request) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if req.system:
            messages.append({"role": "system", "content": req.system})
        messages.extend(req.messages)
        params: dict[str, Any] = {"model": self.model, "messages": messages}
        if req.reasoning_effort:
            # Reasoning models take max_completion_tokens and refuse a custom temperature.
            params["reasoning_effort"] = req.reasoning_effort
            params["max_completion_tokens"] = req.max_tokens
        else:
            params["max_tokens"] = req.max_tokens
            params["temperature"] = req.temperature
        tools = to_openai_tools(req.tools)
        if tools:
            params["tools"] = tools
        headers = sim_headers(self.cfg.simulated, req)
        if headers:
            params["extra_headers"] = headers
        return params

    async def complete(self, req: Request) -> Completion:
        params = self._params(req)
        t0 = time.monotonic()
        key, url = self._key, self.url

        async def call() -> tuple[Any, str]:
            raw = await self._create(**params)
            return raw, raw.text

        # The whole call under one timeout, not only each read: a server that drips bytes never trips a
        # read timeout.
        raw, text = await sdk_call(openai, openai.OpenAIError, url, key, self.cfg.timeout_s, call)
        latency = time.monotonic() - t0
        quota = parse_quota(raw.headers)
        url = safe_url(raw.http_request.url) or url
        try:
            data = json.loads(text)
        except ValueError:
            raise bad_response(url, "body is not JSON" if text.strip() else "empty body", text, key) from None
        if not isinstance(data, dict):
            raise bad_response(url, "body is not a JSON object", text, key)
        if not data.get("choices"):
            if data.get("error"):
                # OpenRouter answers some upstream failures with 200, no choices and an error.
                raise ProviderError(f"{FAIL_SERVER} 200 {url}: {body_text(data, key)}", kind=FAIL_SERVER,
                                    status=200, url=url)
            raise bad_response(url, "no choices in the response", text, key)
        try:
            resp = raw.parse()
            if not isinstance(resp, ChatCompletion):
                raise TypeError(type(resp).__name__)
            comp = self._completion(resp, latency, bool(data.get("usage")))
            comp.quota = quota
            return comp
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as e:
            raise bad_response(url, f"not a chat completion ({type(e).__name__})", text, key) from None

    def _completion(self, resp: ChatCompletion, latency: float, usage_known: bool) -> Completion:
        choice = resp.choices[0]
        msg = choice.message
        tool_calls: list[dict[str, Any]] = []
        for tc in msg.tool_calls or []:
            fn = getattr(tc, "function", None)
            if fn is None:
                continue
            try:
                args = json.loads(fn.arguments or "{}")
            except json.JSONDecodeError:
                args = {"_raw": fn.arguments}  # kept so a verifier can reject it with a reason
            tool_calls.append({"id": tc.id, "name": fn.name, "arguments": args})
        raw = choice.finish_reason or ""
        usage = getattr(resp, "usage", None) if usage_known else None
        tin = int(getattr(usage, "prompt_tokens", 0) or 0) if usage else 0
        tout = int(getattr(usage, "completion_tokens", 0) or 0) if usage else 0
        # prompt_tokens includes the cached ones; completion_tokens includes reasoning.
        cached = int(getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", 0) or 0)
        reasoning = int(getattr(getattr(usage, "completion_tokens_details", None), "reasoning_tokens", 0) or 0)
        return Completion(
            text=msg.content or "", reasoning=_reasoning_of(msg),
            finish_reason=normalise_finish_reason(raw), finish_reason_raw=raw,
            input_tokens=tin, output_tokens=tout, latency_s=latency,
            cost_usd=cost_usd(tin, tout, self.cfg.price_in, self.cfg.price_out, cache_read=cached,
                              read_mult=self.cfg.cache_read_mult),
            model=resp.model or self.model, tool_calls=tool_calls or None,
            cache_read_tokens=cached, reasoning_tokens=reasoning, usage_known=usage_known,
        )

    async def aclose(self) -> None:
        await self.client.close()
