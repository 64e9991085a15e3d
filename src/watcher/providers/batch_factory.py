"""The batch API of a backend, by its `batch_api` setting (auto: by kind and base URL)."""

from __future__ import annotations

from watcher.config import BackendConfig
from watcher.providers.batches import BatchAPI, batch_api_of


def make_batch_api(cfg: BackendConfig, api_key: str) -> BatchAPI:
    # The SDK of the one protocol in use is imported here, as make_provider does: importing both
    # SDKs costs a worker seconds at every start.
    api = batch_api_of(cfg)
    if api == "anthropic":
        from watcher.providers.anthropic_provider import AnthropicProvider
        from watcher.providers.batch_anthropic import AnthropicBatches

        return AnthropicBatches(AnthropicProvider(cfg, api_key))
    from watcher.providers.batch_openai import OpenAIBatches
    from watcher.providers.openai_provider import OpenAIProvider

    return OpenAIBatches(OpenAIProvider(cfg, api_key), inline=api == "openrouter")
