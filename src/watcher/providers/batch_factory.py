"""The batch API of a backend, by its `batch_api` setting (auto: by kind and base URL)."""

from __future__ import annotations

from watcher.config import BackendConfig
from watcher.providers.anthropic_provider import AnthropicProvider
from watcher.providers.batch_anthropic import AnthropicBatches
from watcher.providers.batch_openai import OpenAIBatches
from watcher.providers.batches import BatchAPI, batch_api_of
from watcher.providers.openai_provider import OpenAIProvider


def make_batch_api(cfg: BackendConfig, api_key: str) -> BatchAPI:
    api = batch_api_of(cfg)
    if api == "anthropic":
        if cfg.kind != "anthropic":
            raise ValueError("batch_api = 'anthropic' needs a kind = 'anthropic' backend")
        return AnthropicBatches(AnthropicProvider(cfg, api_key))
    if cfg.kind != "openai":
        raise ValueError(f"batch_api = '{api}' needs a kind = 'openai' backend")
    return OpenAIBatches(OpenAIProvider(cfg, api_key), inline=api == "openrouter")
