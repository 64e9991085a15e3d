"""Record-level pieces of the quality gate: the check names and results, and what each record
check decides (schema beyond msgspec's typing, trace well-formedness, the output text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

from watcher.config import RunConfig

MAX_EXAMPLES = 5
EXCERPT = 70
_ID_RE = re.compile(rb'"id"\s*:\s*"([^"]{1,64})"')

CHECKS: dict[str, str] = {
    "partial_tail": "last line without a newline (writer killed or still writing); dropped, not corruption",
    "valid_json": "line is not valid JSON",
    "schema": "required fields missing or of the wrong type for the job",
    "finish_reason": "finish_reason is not stop",
    "nonempty": "output is empty",
    "min_score": "score below the run's min_score",
    "traces": "synth/natural trace missing or malformed",
    "token_budget": "output tokens above the budget",
    "exact_duplicate": "same output words (ignoring case, punctuation, spacing) as an earlier kept record",
    "duplicate_id": "same id as an earlier kept record",
    "near_duplicate": "estimated Jaccard of shingles at or above the threshold vs an earlier kept record",
    "balance": "groups below target * (1 - balance_tolerance)",
    "kept_share": "share of records that survive every check",
}
# Verdicts over the whole dataset: they pass or fail the gate but never drop a record themselves.
DATASET_CHECKS = frozenset({"balance", "kept_share"})


@dataclass
class CheckResult:
    name: str
    description: str
    count: int = 0
    share: float = 0.0
    examples: list[dict[str, Any]] = field(default_factory=list)
    failed: bool = False  # this check makes the gate fail
    enabled: bool = True

    def add(self, line: int, rec_id: str | None, excerpt: str, why: str, of_line: int | None = None) -> None:
        """One record this check counts. `of_line`: a duplicate's earlier kept line (the record it copies)."""
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            ex: dict[str, Any] = {"line": line, "id": rec_id, "excerpt": excerpt, "why": why}
            if of_line is not None:
                ex["of_line"] = of_line
            self.examples.append(ex)

    def add_text(self, line: int, rec_id: str | None, text: str, why: str, of_line: int | None = None) -> None:
        """`add` with the excerpt made only while examples are still collected (duplicates can be
        most of a dataset)."""
        if len(self.examples) < MAX_EXAMPLES:
            self.add(line, rec_id, excerpt(text), why, of_line)
        else:
            self.count += 1

    @property
    def status(self) -> str:
        """What the check did, for every report view: FAIL (it fails the gate), drop (it removed
        records; only the thresholds fail the gate), ok, or skip (disabled)."""
        if self.failed:
            return "FAIL"
        if not self.enabled:
            return "skip"
        return "drop" if self.count and self.name not in DATASET_CHECKS else "ok"


def excerpt(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    t = " / ".join(x.strip() for x in text.strip().splitlines() if x.strip())
    return t if len(t) <= EXCERPT else t[: EXCERPT - 1] + "…"


def raw_id(line: bytes) -> str | None:
    m = _ID_RE.search(line)
    return m.group(1).decode("utf-8", "replace") if m else None


def needs_natural_trace(cfg: RunConfig) -> bool:
    """A blank natural trace fails the traces check when the export uses it, or for poetry that asked
    for one (seed 000's dual traces). The A/B job deliberately asks for no reasoning, and a backend
    without native reasoning gives none, so elsewhere it may be blank (if present it must be valid)."""
    return cfg.gate.trace_style in ("natural", "both") or (cfg.job == "poetry" and cfg.request_thinking)


def token_limit(cfg: RunConfig) -> int:
    if cfg.gate.max_output_tokens > 0:
        return cfg.gate.max_output_tokens
    if cfg.job == "aba" and cfg.aba is not None:
        return cfg.aba.token_budget
    return 0


ROLES = frozenset({"system", "user", "assistant", "tool"})



def raw_str(raw: bytes) -> str | None:
    """A raw JSON string (or null) as text."""
    return None if raw == b"null" else msgspec.json.decode(raw, type=str)


def schema_problem(rec: Any, job: str, syn: bytes, nat: bytes) -> str | None:
    """What msgspec's typing cannot say: traces are strings, the job matches, agentic carries
    messages or a response. `syn`/`nat` are the raw JSON of the two traces."""
    if syn[:1] != b'"' and syn != b"null":
        return "synth_trace is not a string"
    if nat[:1] != b'"' and nat != b"null":
        return "natural_trace is not a string"
    if rec.job is not None and rec.job != job:
        return f"job '{rec.job}' in a {job} run"
    if not rec.id:
        return "empty id"
    if job == "agentic":
        if rec.messages is None and rec.response is None:
            return "neither messages nor response"
        if rec.messages is not None:
            if not rec.messages:
                return "messages is empty"
            for i, m in enumerate(rec.messages):
                if m.get("role") not in ROLES:
                    return f"messages[{i}] has role {m.get('role')!r}"
    return None


def output_of(rec: Any) -> str:
    """The generated text: poem or response; for chat examples the non-system message contents."""
    text = getattr(rec, "poem", None) or getattr(rec, "response", None)
    if text:
        return text
    msgs = getattr(rec, "messages", None)
    if msgs:
        parts = []
        for m in msgs:
            if m.get("role") == "system":
                continue
            c = m.get("content")
            if c:
                parts.append(c if isinstance(c, str) else str(c))
            if m.get("tool_calls"):
                parts.append(str(m["tool_calls"]))
        return "\n".join(parts)
    return ""


# ---------------------------------------------------------------------------------------------
# Traces

_TAG_RE = re.compile(r"</?think>", re.I)


def synth_problem(trace: str | None, tags_known_ok: bool = False) -> str | None:
    """Why a SYNTH trace is malformed (seed 000's layout), or None. `tags_known_ok`: the caller has
    already established that the trace holds no <think> tags besides its first and last."""
    s = trace.strip() if trace else ""
    if not s:
        return "synth_trace missing"
    if not s.startswith("<think>"):
        return "synth_trace does not start with <think>"
    if not s.endswith("</think>"):
        return "synth_trace does not end with </think>"
    if not tags_known_ok and s.find("think>", 7, len(s) - 8) >= 0:
        return "synth_trace has nested or repeated <think> tags"
    req = s.find("requirements:")
    if req < 0:
        return "synth_trace has no 'requirements:' header"
    concl = s.rfind("∴")  # near the end, so rfind is cheap
    if concl < req:
        return "synth_trace has no ∴ conclusion after its requirements"
    # The verification marks sit just above the conclusion: search backwards from it.
    if s.rfind("✓", req, concl) < 0 and s.rfind("☑", req, concl) < 0 and s.rfind("☐", req, concl) < 0:
        return "synth_trace has no verification marks (✓ ☑ ☐) before its ∴ conclusion"
    return None


def think_tags_problem(text: str, what: str) -> str | None:
    """Nested, stray or unclosed <think> tags in `text` (case-sensitive fast path, exact walk)."""
    if text.startswith("<think>") and text.endswith("</think>") and text.find("think>", 7, len(text) - 8) < 0:
        return None  # the common case: one block around everything
    if "hink>" not in text and "HINK>" not in text:
        return None
    depth = 0
    for m in _TAG_RE.finditer(text):
        if m.group(0)[1] == "/":
            depth -= 1
            if depth < 0:
                return f"{what} has a </think> without <think>"
        else:
            depth += 1
            if depth > 1:
                return f"{what} has a nested <think>"
    return f"{what} has an unclosed <think>" if depth else None


def natural_problem(trace: str | None, required: bool = True) -> str | None:
    s = trace.strip() if trace else ""
    if not s:
        return "natural_trace missing" if required else None
    return think_tags_problem(s, "natural_trace")


def traces_problem(synth: str | None, natural: str | None, text: str, raw_tag_count: int = -1,
                   need_natural: bool = True) -> str | None:
    """Why the traces (or the output) are malformed, or None. A blank natural trace is a failure
    only when `need_natural`; one that is there must have well-formed tags either way.

    `raw_tag_count` is the number of b"think>" in the raw JSON line, if the caller counted them
    (one fast bytes scan): with exactly 4, once both traces are seen to start with <think> and end
    with </think>, those are all the tags there are, so no nested or stray tag can be anywhere.
    """
    syn = synth.strip() if synth else ""
    nat = natural.strip() if natural else ""
    fast = (raw_tag_count == 4 and nat.startswith("<think>") and nat.endswith("</think>")
            and syn.startswith("<think>") and syn.endswith("</think>"))
    why = synth_problem(syn, fast)
    if why:
        return why
    if not fast:
        why = natural_problem(nat, need_natural)
        if why:
            return why
        if "hink>" in text and _TAG_RE.search(text):  # the cleaner should have removed reasoning
            return "output contains a <think> tag"
    return None


_OPEN_Q, _CLOSE_Q = b'"<think>', b'</think>"'
_THEREFORE = "∴".encode()
_M1, _M2, _M3 = "✓".encode(), "☑".encode(), "☐".encode()


def traces_problem_raw(syn: bytes, nat: bytes, text: str, raw_tag_count: int, need_natural: bool = True) -> str | None:
    """`traces_problem` on the raw JSON of the traces: plain byte searches decide the common good
    case; anything else (a defect, or JSON escapes such as \\u2234) is decoded and checked as text."""
    if syn.startswith(_OPEN_Q) and syn.endswith(_CLOSE_Q) and (
            (raw_tag_count == 4 and nat.startswith(_OPEN_Q) and nat.endswith(_CLOSE_Q))
            or (raw_tag_count == 2 and not need_natural and nat in (b'""', b"null"))):
        req = syn.find(b"requirements:")
        concl = syn.rfind(_THEREFORE)
        if 0 <= req < concl and (syn.rfind(_M1, req, concl) >= 0 or syn.rfind(_M2, req, concl) >= 0
                                 or syn.rfind(_M3, req, concl) >= 0):
            return None
    return traces_problem(raw_str(syn), raw_str(nat), text, raw_tag_count, need_natural)
