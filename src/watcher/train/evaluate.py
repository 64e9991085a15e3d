"""Post-training evaluation: the base model vs base + adapter on held-out prompts, scored by the verifier.

Prompts are "Write a {form} about {topic} in a {tone} tone": the gated test split's user prompts
first (never seen in training), then generated ones whose topic no training prompt uses. Both
models get the same prompts and greedy decoding by default, so the difference is the adapter.
Writes train/eval.json:
  {"forms": {form: {"before": {"mean_score", "pass_rate", "n"}, "after": {...}}},
   "overall": {"before": {...}, "after": {...}}, "samples": [...], "model", "adapter", "error"?}
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watcher.config import BUNDLED_DATA
from watcher.run.files import atomic_write_json
from watcher.run.paths import RunPaths
from watcher.train.config import TrainConfig, load_train_config
from watcher.train.data import example_form, first_user_prompt, read_jsonl
from watcher.train.model import resolve_model_path
from watcher.train.state import stage_dir, train_dir
from watcher.verify.forms.score import verify
from watcher.verify.text import strip_think

Scorer = Callable[[str, str], tuple[float, bool]]


def _bundled_lines(name: str) -> list[str]:
    try:
        return [ln.strip() for ln in (BUNDLED_DATA / name).read_text().splitlines() if ln.strip()]
    except OSError:
        return []


def _head(example: dict[str, Any]) -> list[dict[str, str]]:
    """The messages before the first assistant turn (system + user), as the model will see them."""
    head = []
    for m in example.get("messages") or []:
        if not isinstance(m, dict) or m.get("role") == "assistant":
            break
        head.append({"role": str(m.get("role")), "content": str(m.get("content") or "")})
    return head


def held_out_prompts(run_dir: Path, forms: list[str], per_form: int) -> dict[str, list[list[dict[str, str]]]]:
    """Up to per_form chat prompts per form whose user prompt (and, when generated, topic) training
    never saw. A system message the training data uses for that form is kept, so the adapter is
    asked the way it was taught."""
    paths = RunPaths(Path(run_dir))
    seen: set[str] = set()
    system_of: dict[str, list[dict[str, str]]] = {}
    by_fold = {f.casefold(): f for f in forms}
    for split in ("train", "valid"):
        if paths.export_split(split).exists():
            for e in read_jsonl(paths.export_split(split)):
                seen.add(first_user_prompt(e).strip().casefold())
                form = by_fold.get((example_form(e) or "").casefold())
                if form and form not in system_of:
                    system_of[form] = [m for m in _head(e) if m["role"] == "system"]
    out: dict[str, list[list[dict[str, str]]]] = {f: [] for f in forms}
    used: set[str] = set()
    if paths.export_split("test").exists():
        for e in read_jsonl(paths.export_split("test")):
            form = by_fold.get((example_form(e) or "").casefold())
            p = first_user_prompt(e).strip()
            if form and p and p.casefold() not in seen | used and len(out[form]) < per_form:
                out[form].append(_head(e))
                used.add(p.casefold())
    topics = [t for t in _bundled_lines("topics.txt") if not any(f" {t.casefold()} " in f" {s} " for s in seen)]
    tones = _bundled_lines("tones.txt") or ["calm"]
    for i, form in enumerate(forms):
        j = 0
        while len(out[form]) < per_form and j < len(topics):
            topic, tone = topics[(i * 7 + j) % len(topics)], tones[(i + j) % len(tones)]
            p = f"Write a {form} about {topic} in a {tone} tone"
            if p.casefold() not in seen | used:
                out[form].append([*system_of.get(form, []), {"role": "user", "content": p}])
                used.add(p.casefold())
            j += 1
    return out


def verifier_score(text: str, form: str) -> tuple[float, bool]:
    """The form verifier's (score, passed): the default Scorer."""
    r = verify(text, form)
    return float(r.score), bool(r.passed)


def _summary(scores: list[tuple[float, bool] | None]) -> dict[str, Any]:
    got = [s for s in scores if s is not None]
    if not got:
        return {"mean_score": None, "pass_rate": None, "n": len(scores)}
    return {"mean_score": round(sum(s for s, _ in got) / len(got), 4),
            "pass_rate": round(sum(1 for _, p in got if p) / len(got), 4), "n": len(scores)}


def _generate(model: Any, tokenizer: Any, prompts: list[list[dict[str, str]]], max_tokens: int, temperature: float,
              should_stop: Callable[[], bool]) -> list[str] | None:
    from mlx_lm import generate
    from mlx_lm.sample_utils import make_sampler

    sampler = make_sampler(temp=temperature)
    outs = []
    for p in prompts:
        if should_stop():
            return None
        ids = tokenizer.apply_chat_template(p, add_generation_prompt=True)
        outs.append(generate(model, tokenizer, ids, max_tokens=max_tokens, sampler=sampler))
    return outs


def forms_for_eval(run_dir: Path, cfg: TrainConfig) -> list[str]:
    if cfg.eval.forms:
        return list(cfg.eval.forms)
    forms: dict[str, None] = {}
    paths = RunPaths(Path(run_dir))
    for split in ("train", "test"):
        if paths.export_split(split).exists():
            for e in read_jsonl(paths.export_split(split)):
                f = example_form(e)
                if f:
                    forms.setdefault(f, None)
    return list(forms)


def run_evaluation(run_dir: Path, cfg: TrainConfig, model_path: Path | str, adapter_dir: Path | None,
                   should_stop: Callable[[], bool] = lambda: False,
                   scorer: Scorer | None = None) -> dict[str, Any] | None:
    """Generate with and without the adapter, score, write train/eval.json; None if stopped."""
    from mlx_lm import load

    run_dir = Path(run_dir)
    forms = forms_for_eval(run_dir, cfg)
    result: dict[str, Any] = {"model": str(model_path), "adapter": str(adapter_dir) if adapter_dir else None,
                              "forms": {}, "overall": {}, "samples": [], "time": time.time()}
    if not forms:
        result["skipped"] = "no poetry forms in the gated data (nothing for the form verifier to score)"
        atomic_write_json(RunPaths(run_dir).train_eval, result)
        return result
    prompts = held_out_prompts(run_dir, forms, cfg.eval.prompts_per_form)
    flat = [(f, p) for f in forms for p in prompts[f]]
    texts = [p for _, p in flat]
    outputs: dict[str, list[str]] = {}
    for label, adapter in (("before", None), ("after", adapter_dir)):
        if label == "after" and adapter is None:
            break
        model, tok = load(str(model_path), adapter_path=str(adapter) if adapter else None)
        got = _generate(model, tok, texts, cfg.eval.max_tokens, cfg.eval.temperature, should_stop)
        if got is None:
            return None
        outputs[label] = got
        del model

    if scorer is None:
        scorer = verifier_score
    all_scores: dict[str, list[tuple[float, bool] | None]] = {"before": [], "after": []}
    per_form: dict[str, dict[str, list[tuple[float, bool] | None]]] = {f: {"before": [], "after": []} for f in forms}
    errors: list[str] = []
    for i, (form, prompt) in enumerate(flat):
        sample: dict[str, Any] = {"form": form, "prompt": prompt[-1]["content"]}
        for label, outs in outputs.items():
            poem = strip_think(outs[i]).strip()  # an unclosed <think>: no poem was written
            s: tuple[float, bool] | None = None
            if scorer is not None:
                try:
                    s = scorer(poem, form)
                except Exception as e:  # an unknown form or a verifier bug must not lose the table
                    errors.append(f"{form}: {type(e).__name__}: {e}")
            per_form[form][label].append(s)
            all_scores[label].append(s)
            sample[label] = poem
            sample[f"{label}_raw"] = outs[i][:400]
            sample[f"{label}_score"] = s[0] if s else None
        if i < 3 * len(forms):
            result["samples"].append(sample)
    for form in forms:
        result["forms"][form] = {label: _summary(per_form[form][label]) for label in outputs}
    result["overall"] = {label: _summary(all_scores[label]) for label in outputs}
    if errors and "error" not in result:
        result["error"] = f"{len(errors)} output(s) could not be scored, e.g. {errors[0]}"
    atomic_write_json(RunPaths(run_dir).train_eval, result)
    return result


def format_eval_table(ev: dict[str, Any]) -> str:
    if ev.get("skipped"):
        return f"evaluation skipped: {ev['skipped']}"

    def cell(d: dict[str, Any] | None) -> str:
        if not d or d.get("mean_score") is None:
            return f"{'--':>7} {'--':>6}"
        return f"{d['mean_score']:7.3f} {d['pass_rate'] * 100:5.0f}%"

    forms = sorted((ev.get("forms") or {}).items())
    w = max([18] + [len(f) + 1 for f, _ in forms])
    rows = [f"{'form':<{w}} {'before':>7} {'pass':>6}   {'after':>7} {'pass':>6}   {'n':>3}"]
    for form, r in forms:
        rows.append(f"{form:<{w}} {cell(r.get('before'))}   {cell(r.get('after'))}   "
                    f"{(r.get('after') or {}).get('n', 0):>3}")
    ov = ev.get("overall") or {}
    rows.append(f"{'overall':<{w}} {cell(ov.get('before'))}   {cell(ov.get('after'))}   "
                f"{(ov.get('after') or {}).get('n', 0):>3}")
    if ev.get("error"):
        rows.append(f"note: {ev['error']}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """`python -m watcher.train.evaluate --run-dir DIR [--config FILE] [--adapter DIR]`: re-run the evaluation."""
    ap = argparse.ArgumentParser(prog="python -m watcher.train.evaluate")
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--config", default=None)
    ap.add_argument("--adapter", default=None, help="adapter dir (default: the last stage's)")
    a = ap.parse_args(argv)
    run_dir = Path(a.run_dir)
    tdir = train_dir(run_dir)
    cfg = load_train_config(a.config or (tdir / "config.json" if (tdir / "config.json").exists() else None))
    adapter = Path(a.adapter) if a.adapter else None
    if adapter is None:
        adapter = stage_dir(run_dir, len(cfg.stages) - 1, cfg.stages[-1])
    ev = run_evaluation(run_dir, cfg, resolve_model_path(cfg.model), adapter)
    print(format_eval_table(ev or {}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
