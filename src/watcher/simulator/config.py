"""The simulator's settings: latency, rpm, defect rate and fault rates (server, faults and content read them)."""

from __future__ import annotations

from dataclasses import dataclass

# The last seven are forced only (a header, a script, or `force`): simulator/misbehave.py.
FAULTS = ("500", "529", "429", "slow", "drop", "truncate", "empty",
          "html", "cut_json", "empty_json", "404", "401", "hang", "drip")
# --fault NAME=RATE on the command line -> SimConfig field
FAULT_FIELDS = {"500": "error_500", "529": "overloaded_529", "429": "error_429", "slow": "slow",
                "drop": "drop", "truncate": "truncate", "empty": "empty"}


@dataclass
class SimConfig:
    api_key: str = "sim-key"
    latency_s: float = 0.05  # mean; each answer takes latency_s * uniform(1 - jitter, 1 + jitter)
    jitter: float = 0.3
    rpm: int = 0  # enforced requests per minute (0 = unlimited)
    defect_rate: float = 0.3  # share of poems made defective (a third of that on a retry with feedback)
    flaw_rate: float = 0.0  # share of near misses: one line a syllable off (scores ~0.8-0.95)
    defect_max_score: float = 0.75  # defects are stacked until the verifier scores the poem below this
    error_500: float = 0.0
    overloaded_529: float = 0.0
    error_429: float = 0.0  # random 429s on top of the rpm limit
    slow: float = 0.0
    slow_s: float = 30.0  # how long a "slow" answer sleeps: past the client's timeout
    drop: float = 0.0
    truncate: float = 0.0
    empty: float = 0.0
    retry_after_s: float = 1.0  # Retry-After of a forced/random 429
    window_rpm: int = 0  # requests allowed per sliding window_s (0 = no window); 429 + Retry-After past it
    window_s: float = 60.0
    force: str | None = None  # this fault on every completion request (a FAULTS word)
    drip_s: float = 0.5  # the drip fault's pause between body bytes
    seed: int | None = None
    # Batch APIs (batches.py): processing time, per-request error and expiry rates, and how long the
    # create call waits after storing the batch before it answers.
    batch_delay_s: float = 0.0
    batch_error_rate: float = 0.0
    batch_expire_rate: float = 0.0
    batch_hold_s: float = 0.0
    chars_per_token: float = 4.0
    context_tokens: int = 0  # a prompt longer than this (in tokens) gets 400 "prompt is too long" (0 = no limit)

    def fault_rates(self) -> list[tuple[str, float]]:
        return [(f, float(getattr(self, FAULT_FIELDS[f]))) for f in FAULTS if f in FAULT_FIELDS]


def parse_fault_args(items: list[str]) -> dict[str, float]:
    """["500=0.05", "drop=0.02"] -> {"error_500": 0.05, "drop": 0.02}; a clear error otherwise."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, rate = item.partition("=")
        name = name.strip().lower()
        if not sep or name not in FAULT_FIELDS:
            raise ValueError(f"--fault {item!r}: use NAME=RATE with NAME one of {', '.join(FAULTS)}")
        try:
            r = float(rate)
        except ValueError:
            raise ValueError(f"--fault {item!r}: RATE must be a number between 0 and 1") from None
        if not 0 <= r <= 1:
            raise ValueError(f"--fault {item!r}: RATE must be between 0 and 1")
        out[FAULT_FIELDS[name]] = r
    return out
