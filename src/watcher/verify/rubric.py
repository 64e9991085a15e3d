"""One rubric item: the shape every verifier (poetry forms, agentic structure, A/B) scores with.

Records store rubric items as `to_dict()` dicts; the retry feedback, the SYNTH trace and the TUI
read those keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class RubricItem:
    criterion: str
    expected: str
    actual: str
    score: float
    passed: bool
    explanation: str
    instruction: str
    weight: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["score"] = round(self.score, 4)
        return d
