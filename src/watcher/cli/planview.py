"""The plan's report: the estimate as a table, or JSON (`watcher plan`, `--dry-run`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from watcher.cli.options import RunOptions

if TYPE_CHECKING:
    from watcher.config import RunConfig
    from watcher.generate.estimate import Estimate


def _money(v: float) -> str:
    return f"${v:,.4f}" if v < 1 else f"${v:,.2f}"


def _rng(d: dict[str, float], fmt=_money) -> str:
    return f"{fmt(d['low'])} – {fmt(d['expected'])} – {fmt(d['high'])}"


def format_estimate(est: Estimate, cfg: RunConfig) -> str:
    from watcher.monitor.format import fmt_tokens

    label = {"poetry": "form", "agentic": "category", "aba": "variant"}[cfg.job]
    w = max([len(label)] + [len(ln.group) for ln in est.lines]) + 2
    out = [f"plan: {cfg.job} job, {est.items} items to do; no model is called",
           f"input tokens counted with {est.token_method}; calls per item from "
           + (f"earlier runs: {', '.join(est.history_runs)}" if est.history_runs else "the default"),
           f"{label:<{w}}{'backend':<12}{'items':>6}{'calls/item':>11}{'requests':>10}{'tokens in':>11}"
           f"{'tokens out':>11}{'cost (expected)':>17}"]
    for ln in est.lines:
        out.append(f"{ln.group:<{w}}{ln.backend:<12}{ln.items:>6}{ln.attempts_per_item:>11.2f}"
                   f"{ln.requests['expected']:>10.0f}{fmt_tokens(ln.input_tokens['expected']):>11}"
                   f"{fmt_tokens(ln.output_tokens['expected']):>11}{_money(ln.cost_online['expected']):>17}")
    out.append("per backend (low – expected – high):")
    for name, b in est.backends().items():
        out.append(f"  {name} ({b['model']}): {b['items']} items, requests {_rng(b['requests'], lambda v: f'{v:,.0f}')}, "
                   f"tokens in {fmt_tokens(b['input_tokens']['expected'])} out {fmt_tokens(b['output_tokens']['expected'])}")
        parts = [f"{what} {fmt_tokens(b[k]['expected'])}" for what, k in (
            ("cache reads", "cache_read_tokens"), ("cache writes", "cache_write_tokens"),
            ("reasoning", "reasoning_tokens")) if b[k]["expected"]]
        if parts:  # from earlier runs' usage; priced at the backend's cache prices, reasoning as output
            out.append(f"    of which (expected): {', '.join(parts)}")
        out.append(f"    online {_rng(b['cost_online'])} · batch {_rng(b['cost_batch'])}")
    out.append(f"total: online {_rng(est.total('cost_online'))} · batch {_rng(est.total('cost_batch'))}")
    if cfg.max_cost_usd:
        exp = est.total("cost_online")["expected"]
        verdict = "above it: WARNING, the run will stop there" if exp > cfg.max_cost_usd else "within it"
        out.append(f"ceiling: max_cost_usd ${cfg.max_cost_usd:g}; the expected online cost is {verdict}")
    out.extend(f"note: {n}" for n in est.notes)
    out.append("low = one call per item; high = every item uses max_attempts calls of max_tokens each")
    return "\n".join(out)


def print_plan(cfg: RunConfig, opts: RunOptions) -> int:
    from watcher.errors import EXIT_OK
    from watcher.generate.estimate import estimate
    from watcher.generate.jobs import make_job

    run_dir = Path(cfg.runs_dir) / opts.run if opts.run else None
    est = estimate(cfg, make_job(cfg), run_dir=run_dir)
    if opts.as_json:
        print(json.dumps({**est.to_dict(), "max_cost_usd": cfg.max_cost_usd or None}))
    else:
        print(format_estimate(est, cfg))
    return EXIT_OK
