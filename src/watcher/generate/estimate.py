"""What a run would cost before it starts: requests, tokens and USD per group and backend.

No model is called. Input tokens are counted from the real requests the job would send (its system
prompt, rules, tool schemas, the item's prompt; for retries the feedback template plus the earlier
tries it sends back). Requests per item and output tokens per call come from this config's earlier
runs when there are any (their records' `attempts` and `usage`), else from stated defaults.

The range per line:
- low: one call per item, output tokens per call as expected (every first try passes; not a floor
  when the model writes less than expected);
- expected: attempts per item and output per call from history (or the defaults below);
- high: every item uses all `max_attempts` calls and each call writes `max_tokens`: a hard ceiling
  for the generation calls (a judge call, when configured, is estimated the same way).
Batch cost is the online cost times the backend's `batch_price_share` (default 0.5: the providers'
batch APIs bill half).

Cache and reasoning tokens come from history too (the records' usage): the shares of input read
from and written to the prompt cache price expected and low at the backend's cache prices
(price_cache_read, price_cache_write); high, the ceiling, prices every input token at the dearer of
the plain and the cache-write price when history shows cache writes. Reasoning tokens are part of
the output tokens and billed as output; their expected share is shown from history.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from watcher.config import RunConfig, load_config
from watcher.generate.jobs.base import Evaluation, Job, WorkItem
from watcher.generate.plan import build_plan, load_resume_state
from watcher.providers.base import Request, cost_usd
from watcher.run.paths import RunPaths, list_runs, runs_root
from watcher.run.records import group_of

DEFAULT_ATTEMPTS = 1.5  # calls per item without history: most pass first time, some need feedback
DEFAULT_OUTPUT_SHARE = 0.25  # output tokens per call without history, as a share of max_tokens
CHARS_PER_TOKEN = 4.0  # the usual English estimate (OpenAI's and Anthropic's docs say ~4 chars/token)
JUDGE_OUTPUT_TOKENS = 256  # a judge replies with a score and a few reasons
MESSAGE_OVERHEAD = 4  # tokens of role/format framing per message (OpenAI's chat counting guide)


def _tokenizer():
    """tiktoken's cl100k_base when it is installed and its encoding loads; else None (chars/4)."""
    try:
        import tiktoken  # type: ignore[import-not-found]

        return tiktoken.get_encoding("cl100k_base")
    except Exception:  # not installed, or offline without a cached encoding: fall back, never fail
        return None


class TokenCounter:
    def __init__(self) -> None:
        self.enc = _tokenizer()
        self.method = "tiktoken cl100k_base" if self.enc is not None else f"chars/{CHARS_PER_TOKEN:g} estimate"

    def text(self, s: str | None) -> int:
        if not s:
            return 0
        if self.enc is not None:
            return len(self.enc.encode(s, disallowed_special=()))
        return max(1, round(len(s) / CHARS_PER_TOKEN))

    def request(self, req: Request) -> int:
        n = self.text(req.system) + (MESSAGE_OVERHEAD if req.system else 0)
        for m in req.messages:
            c = m.get("content")
            n += MESSAGE_OVERHEAD + self.text(c if isinstance(c, str) else str(c))
        return n


# -- history: this config's earlier runs ---------------------------------------------------------
class _HistRecord(msgspec.Struct):
    model: str = ""
    status: str = ""
    attempts: int = 1
    form: str | None = None
    category: str | None = None
    variant: str | None = None
    usage: dict[str, int] | None = None


@dataclass
class History:
    """Sums over earlier records of one (model, group), or of one model when group is "*"."""

    records: int = 0
    accepted: int = 0
    attempts: int = 0
    output_tokens: int = 0
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def cache_shares(self) -> tuple[float, float]:
        """(share of input tokens read from the cache, share written to it)."""
        if not self.input_tokens:
            return 0.0, 0.0
        return self.cache_read_tokens / self.input_tokens, self.cache_write_tokens / self.input_tokens

    def reasoning_share(self) -> float:
        return self.reasoning_tokens / self.output_tokens if self.output_tokens else 0.0

    def attempts_per_item(self) -> float | None:
        # Calls per planned item: rejected items cost their attempts too.
        return self.attempts / self.records if self.records else None

    def output_per_call(self) -> float | None:
        return self.output_tokens / self.attempts if self.attempts and self.output_tokens else None


def load_history(cfg: RunConfig, root: Path | None = None) -> tuple[dict[tuple[str, str], History], list[str]]:
    """Per (model, group) and (model, "*") sums over the records of earlier runs of this config
    (same job and run name prefix under the same runs folder), and the run names read."""
    hist: dict[tuple[str, str], History] = defaultdict(History)
    used: list[str] = []
    dec = msgspec.json.Decoder(_HistRecord)
    for run_dir in list_runs(root or runs_root(cfg)):
        try:
            old = load_config(run_dir / "config.toml")[0]
        except Exception:  # an unreadable old run says nothing about this one
            continue
        if old.job != cfg.job or old.run_prefix != cfg.run_prefix:
            continue
        paths = RunPaths(run_dir, old.output)
        n = 0
        for p in (paths.dataset, paths.rejects):
            try:
                lines = p.read_bytes().splitlines(keepends=True)
            except FileNotFoundError:
                continue
            for line in lines:
                if not line.endswith(b"\n"):
                    continue
                try:
                    r = dec.decode(line)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    continue
                n += 1
                for key in ((r.model, group_of(r)), (r.model, "*")):
                    h = hist[key]
                    h.records += 1
                    h.accepted += r.status != "rejected"
                    h.attempts += max(1, r.attempts)
                    u = r.usage or {}
                    h.output_tokens += int(u.get("output_tokens", 0))
                    h.input_tokens += int(u.get("input_tokens", 0))
                    h.cache_read_tokens += int(u.get("cache_read_tokens", 0))
                    h.cache_write_tokens += int(u.get("cache_write_tokens", 0))
                    h.reasoning_tokens += int(u.get("reasoning_tokens", 0))
        if n:
            used.append(run_dir.name)
    return dict(hist), used


# -- the estimate --------------------------------------------------------------------------------
@dataclass
class Line:
    """One group on one backend (or the judge's calls)."""

    group: str
    backend: str
    model: str
    items: int
    attempts_per_item: float
    attempts_source: str  # "history (N records)" | "default"
    requests: dict[str, float]  # low / expected / high
    input_tokens: dict[str, int]
    output_tokens: dict[str, int]
    cost_online: dict[str, float]
    cost_batch: dict[str, float]
    # Parts of input_tokens / output_tokens (0 without history that shows them).
    cache_read_tokens: dict[str, int] = field(default_factory=dict)
    cache_write_tokens: dict[str, int] = field(default_factory=dict)
    reasoning_tokens: dict[str, int] = field(default_factory=dict)


PARTS = ("cache_read_tokens", "cache_write_tokens", "reasoning_tokens")


@dataclass
class Estimate:
    job: str
    items: int
    token_method: str
    history_runs: list[str]
    lines: list[Line] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    batch_price_share: dict[str, float] = field(default_factory=dict)  # per backend

    def expected_cost(self, batch: dict[str, bool]) -> float:
        """Expected cost with each backend priced as it will run: batch or online."""
        return sum(ln.cost_batch["expected"] if batch.get(ln.backend) else ln.cost_online["expected"]
                   for ln in self.lines)

    def backends(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for ln in self.lines:
            b = out.setdefault(ln.backend, {"model": ln.model, "items": 0, "requests": _zero(),
                                            "input_tokens": _zero(), "output_tokens": _zero(),
                                            "cost_online": _zero(), "cost_batch": _zero(),
                                            **{k: _zero() for k in PARTS}})
            b["items"] += ln.items if ln.group != "(judge)" else 0
            for k in ("requests", "input_tokens", "output_tokens", "cost_online", "cost_batch", *PARTS):
                for r in RANGE:
                    b[k][r] += getattr(ln, k)[r]
        return out

    def total(self, kind: str = "cost_online") -> dict[str, float]:
        t = _zero()
        for ln in self.lines:
            for r in RANGE:
                t[r] += getattr(ln, kind)[r]
        return t

    def to_dict(self) -> dict[str, Any]:
        return {"job": self.job, "items": self.items, "token_method": self.token_method,
                "history_runs": self.history_runs, "batch_price_share": self.batch_price_share,
                "groups": [asdict(ln) for ln in self.lines], "backends": self.backends(),
                "total": {k: self.total(k) for k in ("requests", "input_tokens", "output_tokens",
                                                     "cost_online", "cost_batch", *PARTS)},
                "notes": self.notes}


RANGE = ("low", "expected", "high")


def _zero() -> dict[str, float]:
    return dict.fromkeys(RANGE, 0)


def _fake_eval() -> Evaluation:
    # A failing try as the feedback template sees it; the wording around it is the job's own.
    return Evaluation(score=0.5, passed=False, rubric=[], text="", feedback=["follow the rules exactly"],
                      detail="", fields={"messages": []})


def _retry_shape(job: Job, item: WorkItem, max_tokens: int, temperature: float, ask_think: bool,
                 counter: TokenCounter) -> tuple[int, int, int]:
    """(first-call input tokens, earlier tries a retry sends back, tokens of one feedback turn)."""
    first = counter.request(job.request(item, max_tokens, temperature, ask_think, []))
    probe = job.request(item, max_tokens, temperature, ask_think, [("·", _fake_eval())] * 4)
    depth = sum(1 for m in probe.messages if m.get("role") == "assistant")
    feedback = 0
    if depth:
        one = job.request(item, max_tokens, temperature, ask_think, [("·", _fake_eval())])
        feedback = max(0, counter.request(one) - first - counter.text("·") - MESSAGE_OVERHEAD)
    return first, depth, feedback


def _line(group: str, backend: str, cfg: RunConfig, items: list[WorkItem], job: Job, counter: TokenCounter,
          hist: dict[tuple[str, str], History], judge: bool = False) -> Line:
    b = cfg.backends[backend]
    native = b.thinking_budget > 0 or bool(b.reasoning_effort)
    ask_think = cfg.request_thinking and not native
    h = hist.get((b.model, group)) or hist.get((b.model, "*"))
    # aba sends its own max_output_tokens, not the backend's: read max_tokens off the real request.
    sample = job.request(items[0], b.max_tokens, b.temperature, ask_think, []) if not judge else None
    max_tokens = sample.max_tokens if sample is not None else b.max_tokens
    out_hist = h.output_per_call() if h else None
    out_call = min(max_tokens, out_hist if out_hist else DEFAULT_OUTPUT_SHARE * max_tokens)
    if judge:
        att, source, max_att = 1.0, "one judge call per accepted item", 1
        out_call = min(max_tokens, JUDGE_OUTPUT_TOKENS)  # no per-kind history for judge calls yet
        firsts = [counter.request(job.judge_request(it, _fake_eval())) for it in items]  # type: ignore[attr-defined]
        depth, feedback = 0, 0
        gen_out = DEFAULT_OUTPUT_SHARE * cfg.backends[items[0].backend].max_tokens
        firsts = [f + int(gen_out) for f in firsts]  # the judge reads the generated conversation
    else:
        att_hist = h.attempts_per_item() if h else None
        att = min(cfg.max_attempts, att_hist) if att_hist else min(cfg.max_attempts, DEFAULT_ATTEMPTS)
        source = f"history ({h.records} records)" if att_hist and h else f"default {DEFAULT_ATTEMPTS:g}"
        max_att = cfg.max_attempts
        firsts, depth, feedback = [], 0, 0
        for it in items:
            f, depth, feedback = _retry_shape(job, it, b.max_tokens, b.temperature, ask_think, counter)
            firsts.append(f)
    n = len(items)
    first_in = sum(firsts)

    def calls_input(calls: float, out: float) -> float:
        # Call k (0-based) sends the first request plus min(k, depth) earlier tries with their feedback.
        whole, frac = int(calls), calls - int(calls)
        per_item = sum(min(k, depth) for k in range(whole)) + frac * min(whole, depth)
        return first_in * calls + n * per_item * (out + feedback)

    req = {"low": float(n), "expected": n * att, "high": float(n * max_att)}
    tin = {"low": calls_input(1, out_call), "expected": calls_input(att, out_call),
           "high": calls_input(max_att, max_tokens)}
    tout = {"low": n * out_call, "expected": n * att * out_call, "high": float(n * max_att * max_tokens)}
    read_share, write_share = h.cache_shares() if h and not judge else (0.0, 0.0)
    c_read = {r: int(tin[r] * read_share) for r in RANGE}
    c_write = {r: int(tin[r] * write_share) for r in RANGE}
    c_read["high"] = 0  # the ceiling takes no cache discount ...
    if write_share:  # ... and pays the write premium on every input token when writes happen
        c_write["high"] = int(tin["high"]) if b.price_cache_write > 1 else 0
    reasoning = {r: int(tout[r] * (h.reasoning_share() if h and not judge else 0.0)) for r in RANGE}
    online = {r: cost_usd(int(tin[r]), int(tout[r]), b.price_in, b.price_out, cache_read=c_read[r],
                          cache_write=c_write[r], read_mult=b.cache_read_mult, write_mult=b.price_cache_write)
              for r in RANGE}
    return Line(group="(judge)" if judge else group, backend=backend, model=b.model, items=n,
                attempts_per_item=round(att, 3), attempts_source=source,
                requests={r: round(v, 1) for r, v in req.items()},
                input_tokens={r: int(v) for r, v in tin.items()}, output_tokens={r: int(v) for r, v in tout.items()},
                cost_online={r: round(v, 6) for r, v in online.items()},
                cost_batch={r: round(v * b.batch_price_share, 6) for r, v in online.items()},
                cache_read_tokens=c_read, cache_write_tokens=c_write, reasoning_tokens=reasoning)


def estimate(cfg: RunConfig, job: Job, run_dir: Path | None = None, history_root: Path | None = None) -> Estimate:
    """The estimate for the items still to do: all planned items, or a resumed run's pending ones."""
    items = build_plan(cfg, job)
    notes: list[str] = []
    if run_dir is not None and (run_dir / "config.toml").exists():
        paths = RunPaths(run_dir, cfg.output)
        state = load_resume_state(paths.dataset, paths.rejects, current_round=-1)
        items = state.pending(items, cfg.resume_retries)
        notes.append(f"run {run_dir.name} exists: only its {len(items)} pending items are counted")
    hist, used = load_history(cfg, history_root)
    counter = TokenCounter()
    est = Estimate(job=cfg.job, items=len(items), token_method=counter.method, history_runs=used, notes=notes,
                   batch_price_share={n: b.batch_price_share for n, b in cfg.backends.items()})
    by: dict[tuple[str, str], list[WorkItem]] = defaultdict(list)
    for it in items:
        by[(it.group, it.backend)].append(it)
    for (group, backend), its in by.items():
        est.lines.append(_line(group, backend, cfg, its, job, counter, hist))
    judge = cfg.agentic.judge if cfg.job == "agentic" and cfg.agentic else None
    if judge is not None and items and hasattr(job, "judge_request"):
        est.lines.append(_line("(judge)", judge.backend, cfg, items, job, counter, hist, judge=True))
    if not used:
        notes.append(f"no earlier runs of this config: {DEFAULT_ATTEMPTS:g} calls per item and "
                     f"{DEFAULT_OUTPUT_SHARE:.0%} of max_tokens per call assumed")
    return est
