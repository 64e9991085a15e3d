"""Quality gate throughput against the cheapest possible reader.

Two datasets, each timed against its own orjson loop. Varied: N realistic poetry records (seed-000 fields, SYNTH traces built by watcher.generate.traces from a
rubric, natural traces, poems of real form lengths; ~1% exact and ~0.25% near duplicates, ~0.5%
cut lines, ~1.5% finish_reason length) to a temp run directory, then times `run_gate` (all checks, MinHash near-duplicates, export) against a
bare `orjson.loads` loop over the same file, in the same process. Duplicate-heavy: N records made
from a dozen poems with one line changed in each (the data a gate exists for: huge near-duplicate
clusters). Prints the timings and both ratios (target <= 2).

    python bench/gate.py [--records 200000] [--repeat 3] [--data both|varied|dup]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import orjson

from watcher.config import PACKAGED_CONFIGS, dump_config, load_config
from watcher.gate.run import run_gate
from watcher.generate.traces import build_synth_trace, natural_trace
from watcher.run.paths import RunPaths
from watcher.run.records import Accepted, Usage, encode_line, item_id

ROOT = Path(__file__).resolve().parents[1]
FORMS = {"Sonnet": 14, "Haiku": 3, "Villanelle": 19, "Limerick": 5, "Tanka": 5, "Cinquain": 5,
         "Ghazal": 10, "Pantoum": 16, "Rondeau": 15, "Sestina": 39}
SYLL = ["al", "be", "cor", "dan", "el", "fen", "gar", "hol", "in", "jor", "ka", "lum", "mer", "nor", "o",
        "pel", "quin", "ros", "sil", "tam", "ul", "ver", "win", "yel", "zor", "ash", "bright", "cold", "dusk"]
COMMON = ("the a of and in to with on my your our their as at by from where when while through "
          "under over beneath beyond").split()


def vocabulary(rng: random.Random, n: int = 6000) -> list[str]:
    words = set()
    while len(words) < n:
        words.add("".join(rng.choice(SYLL) for _ in range(rng.randint(1, 3))))
    return sorted(words)


def make_poem(rng: random.Random, vocab: list[str], n_lines: int) -> str:
    lines = []
    for i in range(n_lines):
        k = rng.randint(4, 9)
        words = [rng.choice(COMMON) if rng.random() < 0.35 else rng.choice(vocab) for _ in range(k)]
        lines.append(" ".join(words).capitalize() + ("," if i % 4 != 3 else "."))
        if i % 4 == 3 and i + 1 < n_lines:
            lines.append("")
    return "\n".join(lines)


def make_line(rng: random.Random, vocab: list[str], i: int, form: str) -> bytes:
    poem = make_poem(rng, vocab, FORMS[form])
    score = round(rng.uniform(0.8, 1.0), 4)
    rubric = [
        {"criterion": "line_count", "expected": f"{FORMS[form]} lines", "score": 1.0,
         "instruction": f"write exactly {FORMS[form]} lines"},
        {"criterion": "meter", "expected": "iambic pentameter", "score": round(rng.uniform(0.6, 1.0), 2),
         "instruction": "keep ten syllables per line"},
        {"criterion": "rhyme_scheme", "expected": "ABAB CDCD EFEF GG", "score": round(rng.uniform(0.5, 1.0), 2),
         "instruction": "rhyme the alternate lines"},
        {"criterion": "refrain", "expected": "repeated lines", "score": 1.0, "instruction": ""},
    ]
    topic, tone = rng.choice(vocab), rng.choice(["melancholic", "joyful", "wry", "calm"])
    history = [(round(rng.uniform(0.4, 0.79), 2), "rhyme_scheme: lines 2 and 4 do not rhyme")] if rng.random() < 0.3 else []
    synth = build_synth_trace(form, {"form": form, "topic": topic, "tone": tone}, rubric, score, history)
    natural = natural_trace(" ".join(rng.choice(vocab) for _ in range(rng.randint(40, 120))))
    rec = Accepted(
        id=item_id("poetry", form, i), job="poetry", prompt=f"Write a {form} about {topic} in a {tone} tone",
        synth_trace=synth, natural_trace=natural, score=score, passed=True, rubric=rubric,
        attempts=1 + len(history), model="claude-haiku-4-5", backend="claude", finish_reason="stop",
        finish_reason_raw="end_turn", usage=Usage(input_tokens=420, output_tokens=rng.randint(200, 900)),
        cost_usd=0.004, latency_s=2.1, worker=0, timestamp="2026-02-13T03:00:00.000000Z", form=form, poem=poem,
    )
    return encode_line(rec)


def write_dataset(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    forms = list(FORMS)
    out: list[bytes] = []
    last = good = b""
    with open(path, "wb") as f:
        for i in range(n):
            form = forms[i % len(forms)]
            r = rng.random()
            if r < 0.01 and last:
                line = last  # exact duplicate
            elif r < 0.0125 and good:  # near duplicate: an earlier poem with one word changed
                d = orjson.loads(good)
                words = d["poem"].split(" ")
                words[len(words) // 2] = "changed"
                d["poem"], d["id"] = " ".join(words), item_id("poetry", form, i)
                line = orjson.dumps(d) + b"\n"
            elif r < 0.0175:
                line = make_line(rng, vocab, i, form)[: 300]  # cut in half
                line += b"\n"
            elif r < 0.0325:
                d = orjson.loads(make_line(rng, vocab, i, form))
                d["finish_reason"] = "length"
                line = orjson.dumps(d) + b"\n"
            else:
                line = good = make_line(rng, vocab, i, form)
            out.append(line)
            last = line
            if len(out) >= 4096:
                f.write(b"".join(out))
                out.clear()
        f.write(b"".join(out))


def write_dup_heavy(path: Path, n: int, seed: int = 1) -> None:
    """n records from 12 base poems, each copy with one line replaced by a fresh one."""
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    forms = list(FORMS)
    bases = [orjson.loads(make_line(rng, vocab, b, forms[b % len(forms)])) for b in range(12)]
    out: list[bytes] = []
    with open(path, "wb") as f:
        for i in range(n):
            d = dict(bases[i % 12])
            lines = d["poem"].split("\n")
            at = rng.choice([j for j, ln in enumerate(lines) if ln])
            lines[at] = make_poem(rng, vocab, 1)
            d["poem"], d["id"] = "\n".join(lines), item_id("poetry", d["form"], i)
            out.append(orjson.dumps(d) + b"\n")
            if len(out) >= 4096:
                f.write(b"".join(out))
                out.clear()
        f.write(b"".join(out))


def baseline(path: Path) -> float:
    t = time.perf_counter()
    n = 0
    with open(path, "rb") as f:
        for line in f:
            try:
                orjson.loads(line)
                n += 1
            except orjson.JSONDecodeError:
                pass
    return time.perf_counter() - t


def bench_one(kind: str, records: int, repeat: int) -> float:
    """Time the gate on one dataset kind; print its figures; return the ratio to the orjson loop."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "bench-run"
        run_dir.mkdir()
        cfg, _ = load_config(PACKAGED_CONFIGS / "poetry.toml")
        cfg = cfg.model_copy(update={"poetry": cfg.poetry.model_copy(
            update={"forms": list(FORMS), "num": records // len(FORMS)})})
        (run_dir / "config.toml").write_text(dump_config(cfg))
        t = time.perf_counter()
        (write_dataset if kind == "varied" else write_dup_heavy)(run_dir / "dataset.jsonl", records)
        size = (run_dir / "dataset.jsonl").stat().st_size
        print(f"[{kind}] wrote {records} records, {size / 1e6:.1f} MB in {time.perf_counter() - t:.1f}s",
              file=sys.stderr)
        base_t, gate_t, check_t = [], [], []
        rep = None
        out_mb = 0.0
        for _ in range(repeat):  # interleaved, best of each: the machine may be shared
            base_t.append(baseline(run_dir / "dataset.jsonl"))
            t = time.perf_counter()
            rep = run_gate(run_dir, cfg)
            gate_t.append(time.perf_counter() - t)
            # Measured now: the no-export run below publishes a report-only gate directory.
            out_mb = sum(RunPaths(run_dir).export_split(s).stat().st_size for s in rep.exported) / 1e6
            t = time.perf_counter()
            run_gate(run_dir, cfg, export=False)
            check_t.append(time.perf_counter() - t)
        b, g, c = min(base_t), min(gate_t), min(check_t)
        assert rep is not None
        counts = ", ".join(f"{c.name}={c.count}" for c in rep.checks if c.count)
        print(f"[{kind}] records        {records} ({size / 1e6:.1f} MB)")
        print(f"[{kind}] orjson loop    {b:.2f}s  ({records / b:,.0f} records/s)")
        print(f"[{kind}] run_gate       {g:.2f}s  ({records / g:,.0f} records/s; kept {rep.kept}, "
              f"exported {rep.exported}, {out_mb:.0f} MB written)")
        print(f"[{kind}]   no export    {c:.2f}s  (checks, dedup and report only)")
        print(f"[{kind}] checks         {counts}")
        print(f"[{kind}] ratio          {g / b:.2f}  (target <= 2; without export {c / b:.2f})")
        return g / b


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", choices=("both", "varied", "dup"), default="both",
                    help="varied records, duplicate-heavy records (a dozen poems, one line changed), or both")
    a = ap.parse_args()
    ratios = {k: bench_one(k, a.records, a.repeat) for k in ("varied", "dup") if a.data in ("both", k)}
    print("ratios         " + "  ".join(f"{k} {r:.2f}" for k, r in ratios.items()) + "  (target <= 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
