"""`watcher export --hf DIR`: the gated export as a Hugging Face dataset folder.

Splits go to `data/{train,validation,test}.jsonl` (copied byte for byte from the gate's export) and
`README.md` is a dataset card: YAML metadata the Hub and `datasets.load_dataset(DIR)` read (split
files, sizes, features, license) and a body with the groups and their counts, the verifier's pass
rates, the models, generation dates and cost, taken from the run's dataset and rejects.
The YAML is written as JSON flow values (valid YAML), so no YAML library is needed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import msgspec

from watcher.errors import ConfigError
from watcher.gate.export import SPLITS
from watcher.run.files import read_json
from watcher.run.paths import RunPaths, load_run_config
from watcher.run.records import GROUP_FIELD

HF_SPLITS = {"train": "train", "valid": "validation", "test": "test"}
# Chat examples of poetry and aba: role/content messages. Agentic examples carry tool calls and
# tool schemas of free form, so their features are left for `datasets` to infer.
CHAT_FEATURES = [{"name": "messages", "list": [{"name": "role", "dtype": "string"},
                                                {"name": "content", "dtype": "string"}]}]


class _Meta(msgspec.Struct):
    model: str = ""
    timestamp: str = ""
    cost_usd: float = 0.0
    form: str | None = None
    category: str | None = None
    variant: str | None = None


def _scan_meta(path: Path, gfield: str) -> tuple[dict[str, int], dict[str, int], list[str], float]:
    """(records per group, per model, [first, last] timestamp, cost) of a JSONL file."""
    groups: dict[str, int] = {}
    models: dict[str, int] = {}
    first = last = ""
    cost = 0.0
    if not path.exists():
        return groups, models, [], 0.0
    dec = msgspec.json.Decoder(_Meta).decode
    with open(path, "rb") as f:
        for line in f:
            try:
                m = dec(line)
            except msgspec.MsgspecError:
                continue
            g = getattr(m, gfield) or ""
            groups[g] = groups.get(g, 0) + 1
            models[m.model] = models.get(m.model, 0) + 1
            cost += m.cost_usd
            if m.timestamp:
                first = min(first, m.timestamp) if first else m.timestamp
                last = max(last, m.timestamp)
    return groups, models, [first, last] if first else [], cost


def size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def build_hf_folder(run_dir: Path, out: Path, license_id: str = "other") -> dict[str, Any]:
    """Write the dataset folder; returns the facts written into the card."""
    paths = RunPaths(run_dir)
    report = read_json(paths.gate_report)
    if not report or not report.get("exported"):
        raise ConfigError(f"run {run_dir.name} has no gate export; fix: run `watcher gate --run {run_dir.name}` first")
    if not sum(report["exported"].values()):
        raise ConfigError(f"run {run_dir.name}: the gate kept no records ({report.get('kept', 0)} of "
                          f"{report.get('total', 0)}), so there is nothing to export; fix: generate data first "
                          "(the run's own command continues it), then `watcher gate`")
    cfg = load_run_config(run_dir)
    gfield = GROUP_FIELD[cfg.job]
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out} exists and is not empty; fix: give a new directory")
    (out / "data").mkdir(parents=True, exist_ok=True)
    splits = []
    for s in SPLITS:
        src = paths.export_split(s)
        dst = out / "data" / f"{HF_SPLITS[s]}.jsonl"
        shutil.copyfile(src, dst)
        n = sum(1 for _ in open(dst, "rb"))
        splits.append({"name": HF_SPLITS[s], "num_examples": n, "num_bytes": dst.stat().st_size})
    acc_g, models, dates, cost = _scan_meta(paths.dataset, gfield)
    rej_g, _rm, _rd, rej_cost = _scan_meta(paths.rejects, gfield)
    kept = {b["group"]: b["kept"] for b in report.get("balance") or []}
    pass_rates = {g: round(acc_g.get(g, 0) / (acc_g.get(g, 0) + rej_g.get(g, 0)), 4)
                  for g in sorted(set(acc_g) | set(rej_g)) if acc_g.get(g, 0) + rej_g.get(g, 0)}
    total = sum(s["num_examples"] for s in splits)
    info: dict[str, Any] = {"splits": splits, "download_size": sum(s["num_bytes"] for s in splits),
                            "dataset_size": sum(s["num_bytes"] for s in splits)}
    if cfg.job != "agentic":
        info = {"features": CHAT_FEATURES, **info}
    meta = {
        "license": license_id,
        "pretty_name": f"watcher {cfg.job} run {run_dir.name}",
        "task_categories": ["text-generation"],
        "size_categories": [size_category(total)],
        "tags": ["synthetic", "watcher", cfg.job],
        "configs": [{"config_name": "default", "data_files": [
            {"split": s["name"], "path": f"data/{s['name']}.jsonl"} for s in splits]}],
        "dataset_info": info,
    }
    facts = {"job": cfg.job, "group_field": gfield, "examples": {s["name"]: s["num_examples"] for s in splits},
             "groups": kept or acc_g, "pass_rates": pass_rates, "models": models, "dates": dates,
             "cost_usd": round(cost + rej_cost, 4), "gate_passed": report.get("passed"),
             "gate_kept": report.get("kept"), "gate_total": report.get("total")}
    (out / "README.md").write_text(_card(meta, facts))
    return facts


def _card(meta: dict[str, Any], f: dict[str, Any]) -> str:
    head = "\n".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in meta.items())
    lines = ["---", head, "---", "", f"# {meta['pretty_name']}", "",
             f"Synthetic {f['job']} data made with watcher, verified and gated "
             f"(gate {'passed' if f['gate_passed'] else 'FAILED'}: {f['gate_kept']}/{f['gate_total']} records kept).",
             "Each line is an mlx-lm chat example: `{\"messages\": [...]}`.", "",
             "## Splits", "", "| split | examples |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in f["examples"].items()]
    lines += ["", f"## {f['group_field'].capitalize()}s (kept records)", "", f"| {f['group_field']} | kept | verifier pass rate |",
              "|---|---|---|"]
    lines += [f"| {g} | {n} | {f['pass_rates'].get(g, float('nan')):.1%} |" for g, n in sorted(f["groups"].items())]
    lines += ["", "## Models", "", "| model | records |", "|---|---|"]
    lines += [f"| {m or '(unknown)'} | {n} |" for m, n in sorted(f["models"].items())]
    dates = " to ".join(f["dates"]) if f["dates"] else "unknown"
    lines += ["", "## Generation", "", f"- dates: {dates}", f"- cost: ${f['cost_usd']:.4f} (accepted and rejected attempts)", ""]
    return "\n".join(lines)
