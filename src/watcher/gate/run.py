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

import gc
import math
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zlib import crc32

import msgspec

from watcher.config import RunConfig, bundled_file
from watcher.errors import ConfigError
from watcher.gate.against import AgainstIndex
from watcher.gate.checks import (
    CHECKS,
    CheckResult,
    excerpt,
    needs_natural_trace,
    output_of,
    raw_id,
    schema_problem,
    token_limit,
    traces_problem_raw,
)
from watcher.gate.dedup import Dedup, NearDupIndex, ScanState
from watcher.gate.diversity import DiversityCollector, plan_topics
from watcher.gate.diversity import failures as diversity_failures
from watcher.gate.examples import locate_examples
from watcher.gate.export import (
    MSG_USER,
    ROLE_SYSTEM,
    ROLE_USER,
    TAIL,
    USER_END,
    ExportWriter,
    agentic_tools,
    chat_lines,
    fill_empty_splits,
    trace_content,
)
from watcher.gate.publish import clean_leftovers, discard, new_version, publish
from watcher.generate.jobs import make_job
from watcher.run.files import atomic_write_json
from watcher.run.paths import RunPaths, load_run_config
from watcher.run.records import GATE_RECORD_TYPES, GROUP_FIELD
from watcher.verify.forms.catalog import DEFAULT_FORMS, get_form


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
    diversity: dict[str, Any] = field(default_factory=dict)  # [gate.diversity] report, when enabled

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["dropped"] = self.total - self.kept
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GateReport:
        """The report `to_dict` wrote (report.json); `dropped` is derived, so it is not read back."""
        fields = {k: v for k, v in d.items() if k != "dropped"}
        fields["checks"] = [CheckResult(**c) for c in d.get("checks") or []]
        return cls(**fields)


def _fold(name: str) -> str:
    return re.sub(r"[\s_-]+", "", name).casefold()


def _canon_form(name: str) -> str:
    """The catalog's name of a form (records carry it), or the spelling as it is when unknown."""
    try:
        return get_form(name).name
    except Exception:  # unknown to the catalog
        return name


def group_targets(cfg: RunConfig) -> tuple[dict[str, int] | None, str | None]:
    """(targets per group, or None with a note saying why balance cannot be judged). The job's own
    `targets()` (what the planner made) when it can be built, else computed from the config."""
    try:
        return dict(make_job(cfg).targets()), None
    except Exception:  # the job's inputs (prompt list, form catalog) may be unavailable here
        pass
    if cfg.job == "poetry":
        names = list(cfg.poetry.forms)
        if not names:
            names = list(DEFAULT_FORMS)
        return {n: cfg.poetry.num for n in names}, None
    if cfg.job == "agentic" and cfg.agentic is not None:
        return {c.name: c.target for c in cfg.agentic.categories}, None
    if cfg.job == "aba" and cfg.aba is not None:
        try:
            path = bundled_file(cfg.aba.prompts_file)
            n = sum(1 for ln in path.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#"))
        except (ConfigError, OSError) as e:
            return None, f"balance skipped: cannot count aba prompts ({e})"
        return {v.name: n for v in cfg.aba.variants}, None
    return None, "balance skipped: no targets for this job"


def run_gate(run_dir: Path, cfg: RunConfig | None = None, export: bool = True,
             against: list[Path] | None = None, progress: Callable[[int, int], None] | None = None) -> GateReport:
    """Gate the run's dataset, write `gate/report.json` (always) and, with `export`, the splits.
    `against`: earlier runs whose exports this run's records must not nearly duplicate.
    `progress(bytes_read, bytes_total)`: called every few thousand lines of the scan (a CLI bar)."""
    t_start = time.perf_counter()
    run_dir = Path(run_dir)
    cfg = cfg or load_run_config(run_dir)
    g = cfg.gate
    paths = RunPaths(run_dir, cfg.output)
    ds, link = paths.dataset, paths.gate
    clean_leftovers(link)
    version = new_version(link)  # the whole new export and its report; swapped in at the end
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
                        export_dir=str(link) if export else "", notes=notes)

    writer = ExportWriter(version) if export else None
    gc_was_enabled = gc.isenabled()
    # The scan creates no reference cycles, but it keeps a tuple per record alive; with the collector
    # on, its periodic full collections walk all of them again and again on large datasets.
    gc.disable()
    try:
        div = DiversityCollector(g.diversity) if g.diversity.enabled else None
        other = None
        if against and any(p.resolve() == run_dir.resolve() for p in against):
            notes.append("--against: the run itself left out (its own export is what this gate replaces)")
            against = [p for p in against if p.resolve() != run_dir.resolve()]
        if against:
            other = AgainstIndex(list(against), g.near_duplicate_permutations, g.near_duplicate_threshold)
            notes.append(f"near duplicates also checked against {other.size} exported example(s) of "
                         + ", ".join(p.name for p in against))
        state = _scan(ds, cfg, checks, writer, budget, div, other, progress) if ds.exists() else None
    except BaseException:
        if writer:
            writer.abort()
        discard(version)
        raise
    finally:
        if gc_was_enabled:
            gc.enable()
    reasons: list[str] = []
    if state is None:
        if writer:
            writer.abort()
            for p in writer.paths:
                p.unlink(missing_ok=True)
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
            report.exported = writer.finish(moves)
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
        canon = _canon_form if cfg.job == "poetry" else None
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

    if div is not None and state is not None:
        plan = None
        try:
            plan = plan_topics(make_job(cfg).items())
        except Exception as e:  # the job's inputs (prompt list, form catalog) may be unavailable here
            notes.append(f"diversity: no topic x tone coverage ({e})")
        report.diversity = div.report(state.dropped, plan)
        reasons.extend(diversity_failures(report.diversity, g.diversity))

    if state is not None:
        locate_examples(ds, checks.values())
    report.checks = list(checks.values())
    report.reasons = reasons
    report.passed = not reasons
    report.duration_s = round(time.perf_counter() - t_start, 3)
    try:
        atomic_write_json(version / paths.gate_report.name, report.to_dict())
        publish(link, version)
    except BaseException:
        discard(version)
        raise
    return report


def _scan(ds: Path, cfg: RunConfig, checks: dict[str, CheckResult], writer: ExportWriter | None,
          budget: int, div: DiversityCollector | None, other: AgainstIndex | None = None,
          progress: Callable[[int, int], None] | None = None) -> ScanState:
    """One streaming pass over the dataset: record checks, batched dedup, export lines."""
    g = cfg.gate
    job = cfg.job
    decode = msgspec.json.Decoder(GATE_RECORD_TYPES[job]).decode
    enc = msgspec.json.Encoder().encode
    index = NearDupIndex(g.near_duplicate_permutations, g.near_duplicate_threshold) if g.near_duplicates else None
    st = ScanState(ds, index)
    dedup = Dedup(st, g, checks, writer)
    dedup.against = other
    min_score = cfg.min_score - 1e-9
    c_partial, c_json, c_schema = checks["partial_tail"], checks["valid_json"], checks["schema"]
    c_finish, c_empty, c_score = checks["finish_reason"], checks["nonempty"], checks["min_score"]
    c_traces, c_budget = checks["traces"], checks["token_budget"]
    on_finish, on_empty, on_score = g.require_finish_stop, g.require_nonempty, g.require_min_score
    on_traces = g.require_traces
    need_natural = needs_natural_trace(cfg)
    systems = {v.name: v.system_prompt for v in cfg.aba.variants} if job == "aba" and cfg.aba else {}
    tools = agentic_tools(cfg) if job == "agentic" else {}
    gfield = GROUP_FIELD[job]
    style, vshare, tshare = g.trace_style, g.valid_share, g.test_share
    use_synth, use_natural = style in ("synth", "both"), style in ("natural", "both")
    rows = st.rows
    vt_share = tshare + vshare
    lineno = 0
    size = ds.stat().st_size if progress is not None else 0
    with open(ds, "rb", buffering=1 << 20) as f:
        for line in f:
            lineno += 1
            if not lineno & 8191 and progress is not None:
                progress(f.tell(), size)
            if line[-1:] != b"\n":
                if line.strip():
                    st.total += 1
                    c_partial.add(lineno, raw_id(line), excerpt(line[:200]), f"{len(line)} bytes, no newline")
                continue
            st.total += 1
            try:
                rec = decode(line)
            except msgspec.ValidationError as e:
                c_schema.add(lineno, raw_id(line), excerpt(line[:200]), str(e))
                continue
            except msgspec.DecodeError as e:
                if not line.strip():  # a blank line is not a record
                    st.total -= 1
                    continue
                c_json.add(lineno, raw_id(line), excerpt(line[:200]), str(e))
                continue
            syn, nat = bytes(rec.synth_trace), bytes(rec.natural_trace)
            why = schema_problem(rec, job, syn, nat)
            if why:
                c_schema.add(lineno, rec.id, excerpt(line[:200]), why)
                continue
            text = output_of(rec).strip()
            ok = True
            if on_finish and rec.finish_reason != "stop" and rec.finish_reason.lower() != "stop":
                c_finish.add(lineno, rec.id, excerpt(text), f"finish_reason {rec.finish_reason}")
                ok = False
            if on_empty and not text:
                c_empty.add(lineno, rec.id, "", "empty output")
                ok = False
            if on_score and not rec.score >= min_score:
                c_score.add(lineno, rec.id, excerpt(text), f"score {rec.score:.3f} < {cfg.min_score}")
                ok = False
            if on_traces:
                why = traces_problem_raw(syn, nat, text, line.count(b"think>"), need_natural)
                if why:
                    c_traces.add(lineno, rec.id, excerpt(text), why)
                    ok = False
            # The budget is about the accepted answer, not the sum over retried attempts (`usage`).
            usage = rec.final_usage or rec.usage
            if budget and usage is not None and usage.output_tokens > budget:
                c_budget.add(lineno, rec.id, excerpt(text), f"{usage.output_tokens} output tokens > {budget}")
                ok = False
            if not ok:
                continue
            row = len(rows)
            # The split comes from the id alone, so a record lands in the same split on every run:
            # test takes [0, test_share), valid the next valid_share, train the rest.
            u = crc32(rec.id.encode()) / 4294967296.0
            split = 2 if u < tshare else 1 if u < vt_share else 0
            group = getattr(rec, gfield)
            rows.append((lineno, rec.id, group, split, u))
            if div is not None:
                div.add(row, rec.id, group, rec.model, text)
            # The row's lines go in before dedup.add, which may end the batch and commit them.
            if writer is None:
                dedup.add(text)
                continue
            if rec.messages if job == "agentic" else False:
                # mlx-lm's chat format takes `tools`, so the chat template can render the definitions.
                writer.add_lines(row, split, chat_lines(rec.messages, tools.get(group), enc, cfg.gate.split_turns))
                dedup.add(text)
                continue
            system = rec.system or systems.get(group)
            head = (b'{"messages":[' + ROLE_SYSTEM + enc(system) + b"}," + ROLE_USER if system
                    else MSG_USER) + enc(rec.prompt) + USER_END
            text_json = enc(text)
            out = []
            if use_synth:
                out.append(b"".join((head, trace_content(syn, text, text_json, enc), TAIL)))
            if use_natural:
                line_n = b"".join((head, trace_content(nat, text, text_json, enc), TAIL))
                if not out or line_n != out[0]:  # "both" with a blank natural trace: one example
                    out.append(line_n)
            writer.add_lines(row, split, out)
            dedup.add(text)
    dedup.flush()
    return st
