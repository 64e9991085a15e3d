"""`watcher verify` and `watcher forms`: thin command handlers over the verifier."""

from __future__ import annotations

import argparse
import json
import sys

from watcher.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from watcher.verify.forms.catalog import DEFAULT_FORMS, UnknownFormError, get_form, list_forms
from watcher.verify.forms.score import verify


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def run_verify_cli(args: argparse.Namespace) -> int:
    try:
        form = get_form(args.form)
    except UnknownFormError as e:
        print(f"watcher verify: {e}", file=sys.stderr)
        return EXIT_USAGE
    path = getattr(args, "file", "-") or "-"
    try:
        text = _read(path)
    except OSError as e:
        print(f"watcher verify: cannot read {path}: {e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    min_score = 0.8 if getattr(args, "min_score", None) is None else float(args.min_score)
    res = verify(text, form.name, min_score=min_score)
    if getattr(args, "json", False):
        print(json.dumps(res.to_dict(), ensure_ascii=False, indent=2))
    else:
        verdict = "PASSED" if res.passed else "FAILED"
        print(f"{res.form}: score {res.score:.2f} (min {min_score:.2f}) {verdict}")
        rows = [("criterion", "weight", "score", "ok", "expected", "actual", "explanation")]
        for r in res.rubric:
            rows.append((r.criterion, f"{r.weight:g}", f"{r.score:.2f}", "✓" if r.passed else "✗",
                         _clip(r.expected, 30), _clip(r.actual, 28), _clip(r.explanation, 70)))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1])
        fails = res.failing()
        if fails:
            print("\nTo fix:")
            for r in fails:
                print(f"- {r.instruction}")
    return EXIT_OK if res.passed else EXIT_FAILED


def run_forms_cli(args: argparse.Namespace) -> int:
    forms = list_forms()
    rows = [("", "form", "lines", "aliases", "description")]
    for f in forms:
        rows.append(("*" if f.name in DEFAULT_FORMS else "", f.name,
                     str(f.num_lines) if f.num_lines else "var", ", ".join(f.aliases) or "-", f.description))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
    print(f"\n* = default set ({len(DEFAULT_FORMS)} forms used when --forms is not given)")
    return EXIT_OK
