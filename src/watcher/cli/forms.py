"""`watcher verify` and `watcher forms`: thin commands over the verifier."""

from __future__ import annotations

import argparse
import json
import shutil
import sys

from watcher.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE

DEFAULT_MIN_SCORE = 0.8


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


class VerifyCommand:
    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--form", required=True, help="form name (see `watcher forms`)")
        parser.add_argument("file", nargs="?", default="-", help="poem file, or - for stdin")
        parser.add_argument("--json", action="store_true", help="print the score and the rubric as JSON")
        parser.add_argument("--min-score", type=float, default=None,
                            help=f"score needed to pass (exit 0) (default: {DEFAULT_MIN_SCORE})")

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        return verify_file(args.form, args.file or "-", as_json=args.json,
                           min_score=DEFAULT_MIN_SCORE if args.min_score is None else args.min_score)


def verify_file(form_name: str, path: str, as_json: bool, min_score: float) -> int:
    """Score one poem file (or stdin) against a form: 0 passed, 1 failed, 2 unknown form or unreadable file."""
    # Loaded here, not at import: every other command imports this module through cli/main.py.
    from watcher.monitor.format import VERDICT_STYLE
    from watcher.monitor.terminal import echo
    from watcher.verify.forms.catalog import UnknownFormError, get_form
    from watcher.verify.forms.score import verify

    # What `echo` colours on a terminal: the verdict, each criterion's mark, the advice's heading.
    colours = ((r"(?m)(?<=\) )PASSED$", VERDICT_STYLE["PASSED"]), (r"(?m)(?<=\) )FAILED$", VERDICT_STYLE["FAILED"]),
               (r"(?m)^criterion .*$", "bold"), ("✓", "green"), ("✗", "bold red"), (r"(?m)^To fix:$", "bold"))

    try:
        form = get_form(form_name)
    except UnknownFormError as e:
        print(f"watcher verify: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        text = _read(path)
    except OSError as e:
        print(f"watcher verify: cannot read {path}: {e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    res = verify(text, form.name, min_score=min_score)
    if as_json:
        print(json.dumps(res.to_dict(), ensure_ascii=False, indent=2))
    else:
        verdict = "PASSED" if res.passed else "FAILED"
        lines = [f"{res.form}: score {res.score:.2f} (min {min_score:.2f}) {verdict}"]
        rows = [("criterion", "weight", "score", "ok", "expected", "actual", "explanation")]
        for r in res.rubric:
            rows.append((r.criterion, f"{r.weight:g}", f"{r.score:.2f}", "✓" if r.passed else "✗",
                         _clip(r.expected, 30), _clip(r.actual, 28), _clip(r.explanation, 70)))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1])
        fails = res.failing()
        if fails:
            lines.append("\nTo fix:")
            lines.extend(f"- {r.instruction}" for r in fails)
        echo("\n".join(lines), colours)
    return EXIT_OK if res.passed else EXIT_FAILED


class FormsCommand:
    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        return print_forms()


def print_forms() -> int:
    """The verifier's forms as a table; `*` marks the default set."""
    from watcher.verify.forms.catalog import DEFAULT_FORMS, list_forms

    rows = [("", "form", "lines", "aliases", "description")]
    for f in list_forms():
        rows.append(("*" if f.name in DEFAULT_FORMS else "", f.name,
                     str(f.num_lines) if f.num_lines else "var", ", ".join(f.aliases) or "-", f.description))
    # On a terminal every line fits its width (long aliases and descriptions are clipped); piped
    # output stays whole for grep and scripts.
    cols = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    if cols is not None:
        fixed = sum(max(len(r[i]) for r in rows) for i in range(3)) + 2 * 4  # the first 3 columns, gaps
        alias_room = max(6, min(28, cols - fixed - 1 - 24))  # leave the description 24 columns if it can
        rows = [(a, b, c, _clip(d, alias_room), e) for a, b, c, d, e in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    room = None if cols is None else max(8, cols - sum(widths) - 2 * 4 - 1)
    for r in rows:
        desc = r[4] if room is None else _clip(r[4], room)
        print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + desc)
    print(f"\n* = default set ({len(DEFAULT_FORMS)} forms used when --forms is not given)")
    return EXIT_OK
