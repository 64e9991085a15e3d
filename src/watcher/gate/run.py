"""Quality gate: checks every record of a run's dataset, reports, and exports what survives.

Record-level checks, in order (names as in `gate/report.json`):
  partial_tail    the last line has no newline (a writer was killed mid-write, or is still writing).
                  A reader never trusts such a line: it is dropped, but it is not corruption.
  valid_json      the line is not valid JSON.                                     (structural)
  schema          the JSON does not have the job's fields with the right types     (structural)
                  (poetry: form/poem; agentic: category + messages or response; aba: variant/response;
                  all: id, prompt, score, finish_reason; `job`, when present, must be the run's job).
  finish_reason   finish_reason is not "stop" (case-insensitive).           [gate.require_finish_stop]
  nonempty        the output (poem / response / chat messages) is blank.       [gate.require_nonempty]
  min_score       score < the run's min_score.                               [gate.require_min_score]
  traces          synth_trace is not `<think>…</think>` with a "requirements:" header, ✓/☑/☐
                  verification marks and a ∴ conclusion after them; natural_trace has nested/stray/
                  unclosed <think> tags, or is blank where it is required (trace_style natural/both,
                  or poetry with request_thinking; see needs_natural_trace); or the output itself
                  contains a <think> tag.
                                                                               [gate.require_traces]
  token_budget    usage.output_tokens above gate.max_output_tokens, or when that is 0 the aba job's
                  token_budget; skipped for other jobs.
A record is counted by EVERY content check it fails (finish_reason..token_budget), so counts say how
common each problem is; structural failures stop the record's checks. Records that pass all of the
above then go through the duplicate checks, in stream order, so a good record is never dropped as a
copy of a bad one ("keep the first" means the first good one):
  exact_duplicate same output words (case, punctuation and spacing ignored; a 64-bit hash of the
                  word sequence).                                            [gate.exact_duplicates]
  duplicate_id    the id was already kept (a resume or two workers wrote an item twice).
                                                                                [gate.duplicate_ids]
  near_duplicate  estimated Jaccard of word-3-gram shingle sets >= near_duplicate_threshold against
                  an earlier kept record: one-permutation MinHash with densification, signature
                  length near_duplicate_permutations (64), LSH bands chosen from the threshold, and
                  every candidate confirmed by its signature estimate.        [gate.near_duplicates]
Records in the export are exactly those counted by no check; partial_tail lines count in `total`.
Dataset-level checks:
  balance         each group (form / category / variant) keeps >= target * (1 - balance_tolerance);
                  targets: poetry num per form (watcher.verify.forms.DEFAULT_FORMS when forms is empty),
                  agentic category targets, aba one per prompt per variant.          [gate.balance]
  kept_share      kept / total >= gate.min_pass_share.

The gate FAILS when: the dataset is missing or empty; (valid_json + schema) / total exceeds
gate.max_corrupt_share (a broken writer, not a few bad generations); kept_share fails; or balance
fails. Every other check only drops records. Shares are of all non-blank lines (total).

The export (mlx-lm chat format) is written whether the gate passes or not, so it can be inspected;
`report.json`'s `passed` is what training must look at.
"""

from __future__ import annotations

import argparse
import gc
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zlib import crc32

import msgspec
import numpy as np
import orjson

from watcher.config import RunConfig, load_config
from watcher.errors import ConfigError
from watcher.gate.checks import (
    RECORD_TYPES,
    MinHasher,
    NearDupIndex,
    output_of,
    schema_problem,
    trace_content,
    traces_problem_raw,
)
from watcher.gate.export import SPLITS, ExportWriter, fill_empty_splits
from watcher.run.files import atomic_write_json
from watcher.run.paths import RunPaths, find_run, load_run_config, runs_root

MAX_EXAMPLES = 5
EXCERPT = 70
MINHASH_BATCH = 4096
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


@dataclass
class CheckResult:
    name: str
    description: str
    count: int = 0
    share: float = 0.0
    examples: list[dict[str, Any]] = field(default_factory=list)
    failed: bool = False  # this check makes the gate fail
    enabled: bool = True

    def add(self, line: int, rec_id: str | None, excerpt: str, why: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append({"line": line, "id": rec_id, "excerpt": excerpt, "why": why})


@dataclass
class GateReport:
    run: str
    run_dir: str
    dataset: str
    job: str
    passed: bool
    total: int
    kept: int
    checks: list[CheckResult]
    exported: dict[str, int]
    balance: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    trace_style: str = "synth"
    export_dir: str = ""
    duration_s: float = 0.0

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["dropped"] = self.total - self.kept
        return d


def _excerpt(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    t = " / ".join(x.strip() for x in text.strip().splitlines() if x.strip())
    return t if len(t) <= EXCERPT else t[: EXCERPT - 1] + "…"


def _raw_id(line: bytes) -> str | None:
    m = _ID_RE.search(line)
    return m.group(1).decode("utf-8", "replace") if m else None


def _fold(name: str) -> str:
    return re.sub(r"[\s_-]+", "", name).casefold()


def _form_namer() -> Any:
    """watcher.verify.forms.get_form(name).name, or None while the catalog is unavailable."""
    try:
        from watcher.verify.forms import get_form  # lazy: the catalog is optional for the gate
    except ImportError:
        return None

    def canon(name: str) -> str:
        try:
            return get_form(name).name
        except Exception:  # unknown to the catalog: keep the spelling as it is
            return name

    return canon


def group_targets(cfg: RunConfig) -> tuple[dict[str, int] | None, str | None]:
    """(targets per group, or None with a note saying why balance cannot be judged). The job's own
    `targets()` (what the planner made) when it can be built, else computed from the config."""
    try:
        from watcher.generate.jobs import make_job

        return dict(make_job(cfg).targets()), None
    except Exception:  # the job's inputs (prompt list, form catalog) may be unavailable here
        pass
    if cfg.job == "poetry":
        names = list(cfg.poetry.forms)
        if not names:
            try:
                from watcher.verify.forms import DEFAULT_FORMS
            except ImportError:
                return None, "balance skipped: poetry.forms is empty and watcher.verify.forms.DEFAULT_FORMS is unavailable"
            names = list(DEFAULT_FORMS)
        return {n: cfg.poetry.num for n in names}, None
    if cfg.job == "agentic" and cfg.agentic is not None:
        return {c.name: c.target for c in cfg.agentic.categories}, None
    if cfg.job == "aba" and cfg.aba is not None:
        from watcher.config import bundled_file

        try:
            path = bundled_file(cfg.aba.prompts_file)
            n = sum(1 for ln in path.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#"))
        except (ConfigError, OSError) as e:
            return None, f"balance skipped: cannot count aba prompts ({e})"
        return {v.name: n for v in cfg.aba.variants}, None
    return None, "balance skipped: no targets for this job"


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


def run_gate(run_dir: Path, cfg: RunConfig | None = None, export: bool = True) -> GateReport:
    """Gate the run's dataset, write `gate/report.json` (always) and, with `export`, the splits."""
    t_start = time.perf_counter()
    run_dir = Path(run_dir)
    cfg = cfg or load_run_config(run_dir)
    g = cfg.gate
    paths = RunPaths(run_dir, cfg.output)
    ds, out_dir = paths.dataset, paths.gate
    out_dir.mkdir(parents=True, exist_ok=True)
    budget = token_limit(cfg)
    enabled = {
        "finish_reason": g.require_finish_stop, "nonempty": g.require_nonempty,
        "min_score": g.require_min_score, "traces": g.require_traces, "token_budget": budget > 0,
        "exact_duplicate": g.exact_duplicates, "duplicate_id": g.duplicate_ids,
        "near_duplicate": g.near_duplicates, "balance": g.balance,
    }
    checks = {n: CheckResult(n, d, enabled=enabled.get(n, True)) for n, d in CHECKS.items()}
    if budget > 0:
        checks["token_budget"].description = f"output tokens above {budget}"
    else:
        checks["token_budget"].description = "skipped: no token limit for this job"
    checks["near_duplicate"].description = (
        f"estimated Jaccard of word-3-gram shingles >= {g.near_duplicate_threshold} vs an earlier kept record")
    notes: list[str] = []
    report = GateReport(run=run_dir.name, run_dir=str(run_dir), dataset=str(ds), job=cfg.job, passed=False,
                        total=0, kept=0, checks=[], exported={}, trace_style=g.trace_style,
                        export_dir=str(out_dir) if export else "", notes=notes)

    writer = ExportWriter(out_dir) if export else None
    gc_was_enabled = gc.isenabled()
    # The scan creates no reference cycles, but it keeps a tuple per record alive; with the collector
    # on, its periodic full collections walk all of them again and again on large datasets.
    gc.disable()
    try:
        state = _scan(ds, cfg, checks, writer, budget, notes) if ds.exists() else None
    except BaseException:
        if writer:
            writer.abort()
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    reasons: list[str] = []
    if state is None:
        if writer:
            writer.abort()
        reasons.append(f"dataset {ds} does not exist")
        kept_rows: dict[str, int] = {}
    else:
        report.total = state.total
        drop = state.dropped  # exact, id and near duplicates: found batch by batch, never written
        kept_rows = {}
        per_split = [0, 0, 0]
        for row, (_line, _id, grp, split, _u) in enumerate(state.rows):
            if row not in drop:
                kept_rows[grp] = kept_rows.get(grp, 0) + 1
                per_split[split] += 1
        report.kept = sum(kept_rows.values())
        if writer:
            moves: dict[int, int] = {}
            if min(per_split) == 0 and report.kept >= 3:
                by_split: list[list[tuple[float, int]]] = [[], [], []]
                for row, (_line, _id, _grp, split, u) in enumerate(state.rows):
                    if row not in drop:
                        by_split[split].append((u, row))
                moves = fill_empty_splits(by_split)
                notes.append(f"moved {len(moves)} record(s) from the largest split so train, valid and test "
                             "each have one (mlx-lm needs a validation set)")
            report.exported = writer.finish(set(), moves)
        if report.total == 0:
            reasons.append(f"dataset {ds} has no records")

    total = max(report.total, 1)
    for c in checks.values():
        c.share = round(c.count / total, 6)

    # Structural corruption: a broken writer or file, not a few bad generations.
    corrupt = checks["valid_json"].count + checks["schema"].count
    if report.total and corrupt / report.total > g.max_corrupt_share:
        for n in ("valid_json", "schema"):
            checks[n].failed = checks[n].count > 0
        reasons.append(f"{corrupt} corrupt line(s) ({corrupt / report.total:.1%}) exceed max_corrupt_share "
                       f"{g.max_corrupt_share:.1%}")

    ks = checks["kept_share"]
    ks.count = report.kept
    ks.share = round(report.kept / total, 6) if report.total else 0.0
    ks.description = f"share of records that survive every check (needs >= {g.min_pass_share:.0%})"
    if report.total and ks.share < g.min_pass_share:
        ks.failed = True
        reasons.append(f"only {report.kept}/{report.total} records ({ks.share:.1%}) survive; "
                       f"min_pass_share is {g.min_pass_share:.0%}")

    bal = checks["balance"]
    targets, why = group_targets(cfg)
    if why:
        notes.append(why)
    if g.balance and targets is not None and state is not None:
        # Records carry the catalog's canonical form names ("Shakespearean sonnet" for "sonnet").
        canon = _form_namer() if cfg.job == "poetry" else None
        folded: dict[str, str] = {}
        for k in targets:
            folded[_fold(k)] = k
            if canon is not None:
                folded.setdefault(_fold(canon(k)), k)
        merged: dict[str, int] = {}
        extra: dict[str, int] = {}
        for grp, n in kept_rows.items():
            key = folded.get(_fold(grp))
            if key is None and canon is not None:
                key = folded.get(_fold(canon(grp)))
            if key is None:
                extra[grp] = n
            else:
                merged[key] = merged.get(key, 0) + n
        for name, target in targets.items():
            kept = merged.get(name, 0)
            need = math.ceil(target * (1 - g.balance_tolerance) - 1e-9)
            ok = kept >= need
            report.balance.append({"group": name, "target": target, "kept": kept, "min": need, "ok": ok})
            if not ok:
                bal.add(0, None, name, f"{name}: {kept} kept, needs {need} of target {target}")
        for name, n in sorted(extra.items()):
            report.balance.append({"group": name, "target": 0, "kept": n, "min": 0, "ok": True})
            notes.append(f"{n} kept record(s) of group '{name}', which has no target in the config")
        bal.share = round(bal.count / max(len(targets), 1), 6)
        if bal.count:
            bal.failed = True
            reasons.append(f"balance: {bal.count} group(s) below target * (1 - {g.balance_tolerance:g})")
    elif not g.balance or targets is None:
        bal.enabled = False

    report.checks = list(checks.values())
    report.reasons = reasons
    report.passed = not reasons
    report.duration_s = round(time.perf_counter() - t_start, 3)
    atomic_write_json(out_dir / "report.json", report.to_dict())
    return report


class _ScanState:
    """What the streaming pass keeps per candidate row (a record that passed the content checks):
    its line, id, group and split, plus the rows the duplicate checks dropped."""

    def __init__(self, ds: Path, index: NearDupIndex | None) -> None:
        self.ds = ds
        self.total = 0
        self.index = index
        # One tuple per row (line, id, group, split, split point): one append per record.
        self.rows: list[tuple[int, str, str, int, float]] = []
        self.dropped: set[int] = set()  # exact duplicates, repeated ids and near duplicates


class _Dedup:
    """Duplicate checks over batches of candidate rows, in stream order: exact text, then id, then
    (MinHash signatures handed to the near-duplicate index) near text. A batch's export lines are
    committed once its exact duplicates and repeated ids are known, so those are never written.
    (A helper thread for the signatures was tried: no gain, the numpy glue holds the GIL.)"""

    def __init__(self, st: _ScanState, g: Any, checks: dict[str, CheckResult], writer: ExportWriter | None) -> None:
        self.st = st
        self.writer = writer
        self.exact, self.by_id = g.exact_duplicates, g.duplicate_ids
        self.hasher = MinHasher(g.near_duplicate_permutations) if (g.exact_duplicates or g.near_duplicates) else None
        self.c_exact, self.c_id, self.c_near = checks["exact_duplicate"], checks["duplicate_id"], \
            checks["near_duplicate"]
        self.seen_text: dict[int, int] = {}
        self.seen_id: dict[str, int] = {}
        self.first_row = 0
        self.texts: list[str] = []

    def add(self, text: str) -> None:
        self.texts.append(text)
        if len(self.texts) >= MINHASH_BATCH:
            self.flush()

    def flush(self) -> None:
        texts, st = self.texts, self.st
        if not texts:
            return
        n, row0 = len(texts), self.first_row
        self.first_row += n
        self.texts = []
        keys: list[int] = []
        sig = has = None
        if self.hasher is not None:
            # ASCII is folded inside signatures(); only non-ASCII text needs str.lower().
            sig, has, key_arr = self.hasher.signatures(
                [t.encode() if t.isascii() else t.lower().encode() for t in texts])
            keys = key_arr.tolist()
        alive = np.ones(n, dtype=bool)
        seen_text, seen_id, rows = self.seen_text, self.seen_id, st.rows
        for i in range(n):
            row = row0 + i
            if self.exact:
                first = seen_text.get(keys[i])
                if first is not None:
                    alive[i] = False
                    st.dropped.add(row)
                    self.c_exact.add(rows[row][0], rows[row][1], _excerpt(texts[i]),
                                     f"same text as line {rows[first][0]}")
                    continue
            if self.by_id:
                rid = rows[row][1]
                first = seen_id.get(rid)
                if first is not None:
                    alive[i] = False
                    st.dropped.add(row)
                    self.c_id.add(rows[row][0], rid, _excerpt(texts[i]), f"id already kept at line {rows[first][0]}")
                    continue
                seen_id[rid] = row
            if self.exact:
                seen_text[keys[i]] = row
        if st.index is not None and sig is not None and has is not None:
            for row, (earlier, sim) in sorted(st.index.add_batch(row0, sig, has & alive).items()):
                st.dropped.add(row)
                self.c_near.add(rows[row][0], rows[row][1], _excerpt(texts[row - row0]),
                                f"≈{sim:.2f} of line {rows[earlier][0]} (id {rows[earlier][1]})")
        if self.writer is not None:
            self.writer.commit(row0 + n, st.dropped)


_ROLE_USER = b'{"role":"user","content":'
_ROLE_SYSTEM = b'{"role":"system","content":'
_ROLE_ASSISTANT = b'{"role":"assistant","content":'
_MSG_USER = b'{"messages":[' + _ROLE_USER
_USER_END = b"}," + _ROLE_ASSISTANT
_TAIL = b"}]}\n"


def agentic_tools(cfg: RunConfig) -> dict[str, list[dict[str, Any]]]:
    """Per category, its declared tools as OpenAI function schemas (what chat templates render)."""
    if cfg.agentic is None:
        return {}
    declared = {t.name: {"type": "function", "function": {"name": t.name, "description": t.description,
                                                           "parameters": t.parameters}}
                for t in cfg.agentic.tools}
    return {c.name: [declared[n] for n in c.tools if n in declared] for c in cfg.agentic.categories}


def _scan(ds: Path, cfg: RunConfig, checks: dict[str, CheckResult], writer: ExportWriter | None,
          budget: int, notes: list[str]) -> _ScanState:
    """One streaming pass over the dataset: record checks, batched dedup, export lines."""
    g = cfg.gate
    job = cfg.job
    decode = msgspec.json.Decoder(RECORD_TYPES[job]).decode
    enc = msgspec.json.Encoder().encode
    index = NearDupIndex(g.near_duplicate_permutations, g.near_duplicate_threshold) if g.near_duplicates else None
    st = _ScanState(ds, index)
    dedup = _Dedup(st, g, checks, writer)
    min_score = cfg.min_score - 1e-9
    c_partial, c_json, c_schema = checks["partial_tail"], checks["valid_json"], checks["schema"]
    c_finish, c_empty, c_score = checks["finish_reason"], checks["nonempty"], checks["min_score"]
    c_traces, c_budget = checks["traces"], checks["token_budget"]
    on_finish, on_empty, on_score = g.require_finish_stop, g.require_nonempty, g.require_min_score
    on_traces = g.require_traces
    need_natural = needs_natural_trace(cfg)
    systems = {v.name: v.system_prompt for v in cfg.aba.variants} if job == "aba" and cfg.aba else {}
    tools = agentic_tools(cfg) if job == "agentic" else {}
    gfield = {"poetry": "form", "agentic": "category", "aba": "variant"}[job]
    style, vshare, tshare = g.trace_style, g.valid_share, g.test_share
    use_synth, use_natural = style in ("synth", "both"), style in ("natural", "both")
    rows = st.rows
    vt_share = tshare + vshare
    lineno = 0
    with open(ds, "rb", buffering=1 << 20) as f:
        for line in f:
            lineno += 1
            if line[-1:] != b"\n":
                if line.strip():
                    st.total += 1
                    c_partial.add(lineno, _raw_id(line), _excerpt(line[:200]), f"{len(line)} bytes, no newline")
                continue
            st.total += 1
            try:
                rec = decode(line)
            except msgspec.ValidationError as e:
                c_schema.add(lineno, _raw_id(line), _excerpt(line[:200]), str(e))
                continue
            except msgspec.DecodeError as e:
                if not line.strip():  # a blank line is not a record
                    st.total -= 1
                    continue
                c_json.add(lineno, _raw_id(line), _excerpt(line[:200]), str(e))
                continue
            syn, nat = bytes(rec.synth_trace), bytes(rec.natural_trace)
            why = schema_problem(rec, job, syn, nat)
            if why:
                c_schema.add(lineno, rec.id, _excerpt(line[:200]), why)
                continue
            text = output_of(rec).strip()
            ok = True
            if on_finish and rec.finish_reason != "stop" and rec.finish_reason.lower() != "stop":
                c_finish.add(lineno, rec.id, _excerpt(text), f"finish_reason {rec.finish_reason}")
                ok = False
            if on_empty and not text:
                c_empty.add(lineno, rec.id, "", "empty output")
                ok = False
            if on_score and not rec.score >= min_score:
                c_score.add(lineno, rec.id, _excerpt(text), f"score {rec.score:.3f} < {cfg.min_score}")
                ok = False
            if on_traces:
                why = traces_problem_raw(syn, nat, text, line.count(b"think>"), need_natural)
                if why:
                    c_traces.add(lineno, rec.id, _excerpt(text), why)
                    ok = False
            # The budget is about the accepted answer, not the sum over retried attempts (`usage`).
            usage = rec.final_usage or rec.usage
            if budget and usage is not None and usage.output_tokens > budget:
                c_budget.add(lineno, rec.id, _excerpt(text), f"{usage.output_tokens} output tokens > {budget}")
                ok = False
            if not ok:
                continue
            row = len(rows)
            u = crc32(rec.id.encode()) / 4294967296.0  # = split_point(rec.id), inlined
            split = 2 if u < tshare else 1 if u < vt_share else 0  # = split_of(u, ...), inlined
            group = getattr(rec, gfield)
            rows.append((lineno, rec.id, group, split, u))
            dedup.add(text)
            if writer is None:
                continue
            if rec.messages if job == "agentic" else False:
                # mlx-lm's chat format takes `tools`, so the chat template can render the definitions.
                ex = {"messages": rec.messages, "tools": tools[group]} if tools.get(group) else {"messages": rec.messages}
                writer.add_lines(row, split, [enc(ex) + b"\n"])
                continue
            system = rec.system or systems.get(group)
            head = (b'{"messages":[' + _ROLE_SYSTEM + enc(system) + b"}," + _ROLE_USER if system
                    else _MSG_USER) + enc(rec.prompt) + _USER_END
            text_json = enc(text)
            out = []
            if use_synth:
                out.append(b"".join((head, trace_content(syn, text, text_json, enc), _TAIL)))
            if use_natural:
                line_n = b"".join((head, trace_content(nat, text, text_json, enc), _TAIL))
                if not out or line_n != out[0]:  # "both" with a blank natural trace: one example
                    out.append(line_n)
            writer.add_lines(row, split, out)
    dedup.flush()
    return st


# ---------------------------------------------------------------------------------------------
# CLI


def format_report(rep: GateReport) -> str:
    lines = [f"gate · run {rep.run} · {rep.job} · {rep.dataset}", ""]
    lines.append(f"{'check':<16} {'count':>8} {'share':>7}  status  description")
    for c in rep.checks:
        status = "FAIL" if c.failed else ("skip" if not c.enabled else ("drop" if c.count else "ok"))
        if c.name in ("balance", "kept_share"):
            status = "FAIL" if c.failed else ("skip" if not c.enabled else "ok")
        lines.append(f"{c.name:<16} {c.count:>8} {c.share:>7.1%}  {status:<6}  {c.description}")
    for c in rep.checks:
        if c.examples and c.name != "balance":
            lines.append(f"\n{c.name}:")
            for ex in c.examples:
                rid = f" id {ex['id']}" if ex.get("id") else ""
                lines.append(f"  line {ex['line']}{rid}: {ex['why']}" + (f" — {ex['excerpt']}" if ex["excerpt"] else ""))
    if rep.balance:
        lines.append(f"\n{'group':<24} {'kept':>6} {'target':>7} {'min':>6}")
        for b in rep.balance:
            mark = "" if b["ok"] else "  ✗ short"
            lines.append(f"{b['group']:<24} {b['kept']:>6} {b['target']:>7} {b['min']:>6}{mark}")
    lines.append("")
    lines.append(f"kept {rep.kept}/{rep.total} ({rep.kept / max(rep.total, 1):.1%})")
    if rep.exported:
        ex = " · ".join(f"{s} {rep.exported.get(s, 0)}" for s in SPLITS)
        lines.append(f"exported ({rep.trace_style} traces): {ex} → {rep.export_dir}")
    for n in rep.notes:
        lines.append(f"note: {n}")
    lines.append(f"report: {Path(rep.run_dir) / 'gate' / 'report.json'} ({rep.duration_s:.2f}s)")
    if rep.passed:
        lines.append("PASS")
    else:
        lines.append("FAIL: " + "; ".join(rep.reasons))
    return "\n".join(lines)


def run_gate_cli(args: argparse.Namespace) -> int:
    """`watcher gate [--run NAME] [--config FILE] [--json]`: 0 pass, 1 fail; ConfigError → 2."""
    override = load_config(args.config)[0] if getattr(args, "config", None) else None
    run_dir = find_run(getattr(args, "run", None), runs_root(override))
    cfg = load_run_config(run_dir)
    if override is not None:
        # --config supplies the [gate] table only; the job and its targets stay the run's own.
        cfg = cfg.model_copy(update={"gate": override.gate})
    rep = run_gate(run_dir, cfg)
    if getattr(args, "json", False):
        print(orjson.dumps(rep.to_dict()).decode())
    else:
        print(format_report(rep))
    return 0 if rep.passed else 1
