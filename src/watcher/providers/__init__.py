"""LLM backends behind one interface: providers (one call each), limits, and the retrying client."""

from watcher.providers.base import (
    Completion,
    Provider,
    ProviderError,
    Request,
    normalise_finish_reason,
    redact,
)
from watcher.providers.client import BackendClient, make_client, make_provider
from watcher.providers.limits import AdaptiveConcurrency, TokenBucket

__all__ = [
    "AdaptiveConcurrency",
    "BackendClient",
    "Completion",
    "Provider",
    "ProviderError",
    "Request",
    "TokenBucket",
    "make_client",
    "make_provider",
    "normalise_finish_reason",
    "redact",
]
