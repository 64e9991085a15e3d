"""OpenAI-compatible chat completions (OpenAI, OpenRouter, vLLM...) through the official SDK, SDK retries off."""

from __future__ import annotations

import json
import time
from typing import Any

import openai

from watcher.config import BackendConfig
from watcher.providers.base import (
    Completion,
    ProviderError,
    Request,
    cost_usd,
    error_from_status,
    normalise_finish_reason,
    redact,
    sim_headers,
)
from watcher.run.records import FAIL_CONNECTION, FAIL_OTHER, FAIL_SERVER, FAIL_TIMEOUT


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
        self.client = openai.AsyncOpenAI(
            api_key=api_key, base_url=cfg.base_url or None, max_retries=0, timeout=cfg.timeout_s,
            default_headers=dict(cfg.extra_headers) or None,
        )

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
        try:
            resp = await self.client.chat.completions.create(**params)
        except openai.APITimeoutError:
            raise ProviderError(f"timeout after {self.cfg.timeout_s:g}s", kind=FAIL_TIMEOUT) from None
        except openai.APIConnectionError as e:
            raise ProviderError(f"connection error: {redact(str(e), self._key)[:160]}", kind=FAIL_CONNECTION) from None
        except openai.APIStatusError as e:
            raise error_from_status(e.status_code, e.response.headers, e.body, self._key) from None
        except openai.OpenAIError as e:
            raise ProviderError(f"{type(e).__name__}: {redact(str(e), self._key)[:160]}", kind=FAIL_OTHER,
                                retryable=False) from None
        latency = time.monotonic() - t0
        if not resp.choices:
            # OpenRouter answers some upstream failures with 200 and no choices.
            extra = (getattr(resp, "model_extra", None) or {}).get("error")
            raise ProviderError(f"no choices in response: {redact(str(extra or ''), self._key)[:160]}",
                                kind=FAIL_SERVER)
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
        usage = resp.usage
        tin = int(getattr(usage, "prompt_tokens", 0) or 0) if usage else 0
        tout = int(getattr(usage, "completion_tokens", 0) or 0) if usage else 0
        return Completion(
            text=msg.content or "", reasoning=_reasoning_of(msg),
            finish_reason=normalise_finish_reason(raw), finish_reason_raw=raw,
            input_tokens=tin, output_tokens=tout, latency_s=latency,
            cost_usd=cost_usd(tin, tout, self.cfg.price_in, self.cfg.price_out),
            model=resp.model or self.model, tool_calls=tool_calls or None,
        )

    async def aclose(self) -> None:
        await self.client.close()
