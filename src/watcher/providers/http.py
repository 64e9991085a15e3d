"""What the SDKs are given: an HTTP client with separate connect and read timeouts and a pool sized to
concurrency, and the base_url as each SDK wants it."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from watcher.config import BackendConfig, RunConfig

# Each SDK brings its own httpx flavour (httpx or httpx2) and refuses the other's objects, so the
# timeout and the limits are made with the classes the SDK module itself exports.


def timeout_of(sdk: ModuleType, cfg: BackendConfig) -> Any:
    # read/write/pool get timeout_s; a closed or filtered port fails after connect_timeout_s.
    return sdk.Timeout(cfg.timeout_s, connect=min(cfg.connect_timeout_s, cfg.timeout_s))


def limits_of(sdk: ModuleType, cfg: BackendConfig) -> Any:
    # One connection per in-flight call: a smaller pool would queue calls behind the pool timeout.
    limits_cls = type(sdk.DEFAULT_CONNECTION_LIMITS)
    return limits_cls(max_connections=cfg.concurrency, max_keepalive_connections=cfg.concurrency)


def http_client(sdk: ModuleType, cfg: BackendConfig) -> Any:
    """The SDK's default async client (its redirects and headers) with our timeout and pool."""
    return sdk.DefaultAsyncHttpxClient(timeout=timeout_of(sdk, cfg), limits=limits_of(sdk, cfg))


def anthropic_base_url(url: str | None) -> tuple[str | None, str | None]:
    """(base_url, warning): the SDK appends /v1/messages itself, so a base_url ending in /v1 would
    send to /v1/v1/messages and get a 404; drop the /v1 and say so."""
    if not url:
        return url, None
    trimmed = url.rstrip("/")
    if trimmed.endswith("/v1"):
        fixed = trimmed[: -len("/v1")]
        return fixed, (f"base_url {url} ends in /v1; the Anthropic SDK adds /v1/messages itself, "
                       f"so watcher uses {fixed} (fix: drop the /v1 from base_url)")
    return url, None


def backend_warnings(cfg: RunConfig) -> list[str]:
    """What a run's start should say about its backends' settings before any worker meets them (the
    worker's log has it too, where a headless user would never look)."""
    out = []
    for name in cfg.active_backends():
        b = cfg.backends[name]
        if b.kind == "anthropic":
            _, warning = anthropic_base_url(b.base_url)
            if warning:
                out.append(f"backend {name}: {warning}")
    return out
