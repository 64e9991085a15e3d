"""The gate's diversity report (`[gate.diversity]`): per group and per model, distinct-1/2 ratios,
the most repeated first lines and openings, topic x tone coverage against the plan, and each
model's share of the kept records; thresholds turn figures into gate failures (all off by default).

Text figures are computed on the first `sample` kept records of each group and model in stream
order: type/token ratios fall as a sample grows, so equal-size samples keep groups comparable, and
the cost stays bounded on large runs.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from watcher.config import DiversityConfig

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
OPENING_WORDS = 3


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def first_line(text: str) -> str:
    for ln in text.splitlines():
        if ln.strip():
            return " ".join(words(ln))
    return ""


def text_figures(texts: list[str], top: int) -> dict[str, Any]:
    """distinct-1/2 (distinct unigrams/bigrams over all of them, bigrams within one text) and the
    most repeated first lines and openings (first words) with their counts and shares."""
    uni: set[str] = set()
    bi: set[tuple[str, str]] = set()
    n1 = n2 = 0
    firsts: Counter[str] = Counter()
    opens: Counter[str] = Counter()
    for t in texts:
        w = words(t)
        n1 += len(w)
        uni.update(w)
        n2 += max(len(w) - 1, 0)
        bi.update(zip(w, w[1:], strict=False))
        fl = first_line(t)
        if fl:
            firsts[fl] += 1
        if w:
            opens[" ".join(w[:OPENING_WORDS])] += 1
    n = max(len(texts), 1)

    def listed(c: Counter[str]) -> list[dict[str, Any]]:
        return [{"text": k, "count": v, "share": round(v / n, 4)} for k, v in c.most_common(top) if v > 1]

    return {"sample": len(texts), "words": n1,
            "distinct_1": round(len(uni) / n1, 4) if n1 else 0.0,
            "distinct_2": round(len(bi) / n2, 4) if n2 else 0.0,
            "first_lines": listed(firsts), "openings": listed(opens),
            "top_first_line_share": round(firsts.most_common(1)[0][1] / n, 4) if firsts else 0.0}


class DiversityCollector:
    """Fed every record that passed the record checks (row, group, model, text); keeps the texts
    a sample needs and counts kept records per model."""

    def __init__(self, cfg: DiversityConfig) -> None:
        self.cfg = cfg
        # Room for duplicates dropped later: twice the sample per key, in stream order.
        self.cap = 2 * cfg.sample
        self.by_group: dict[str, list[tuple[int, str]]] = {}
        self.by_model: dict[str, list[tuple[int, str]]] = {}
        self.rows: list[tuple[str, str, str]] = []  # (group, model, id) per row

    def add(self, row: int, rec_id: str, group: str, model: str, text: str) -> None:
        self.rows.append((group, model, rec_id))
        for d, key in ((self.by_group, group), (self.by_model, model)):
            lst = d.setdefault(key, [])
            if len(lst) < self.cap:
                lst.append((row, text))

    def report(self, dropped: set[int], plan: dict[str, tuple[str, str, str]] | None) -> dict[str, Any]:
        """The report; `plan` maps item id to (group, topic, tone) for the coverage figures."""
        cfg = self.cfg

        def sample(lst: list[tuple[int, str]]) -> list[str]:
            return [t for r, t in lst if r not in dropped][: cfg.sample]

        kept = [(g, m, i) for row, (g, m, i) in enumerate(self.rows) if row not in dropped]
        per_model = Counter(m for _g, m, _i in kept)
        total = max(len(kept), 1)
        out: dict[str, Any] = {
            "groups": {g: text_figures(sample(lst), cfg.top) for g, lst in sorted(self.by_group.items())},
            "models": {m or "(unknown)": {**text_figures(sample(lst), cfg.top), "kept": per_model[m],
                                          "share": round(per_model[m] / total, 4)}
                       for m, lst in sorted(self.by_model.items())},
        }
        if plan:
            planned: dict[str, set[tuple[str, str]]] = {}
            for g, topic, tone in plan.values():
                planned.setdefault(g, set()).add((topic, tone))
            covered: dict[str, set[tuple[str, str]]] = {}
            for _g, _m, rid in kept:
                item = plan.get(rid)
                if item:
                    covered.setdefault(item[0], set()).add(item[1:])
            cov = {g: {"planned": len(p), "covered": len(covered.get(g, set())),
                       "share": round(len(covered.get(g, set())) / len(p), 4) if p else 0.0}
                   for g, p in sorted(planned.items())}
            all_p = set().union(*planned.values())
            all_c = set().union(*covered.values()) if covered else set()
            out["coverage"] = {"groups": cov, "planned": len(all_p), "covered": len(all_c),
                               "share": round(len(all_c) / len(all_p), 4) if all_p else 0.0,
                               "topics": len({t for t, _ in all_c}), "tones": len({t for _, t in all_c})}
        return out


def failures(div: dict[str, Any], cfg: DiversityConfig) -> list[str]:
    """The thresholds the report misses, one reason each."""
    out = []
    for g, f in div.get("groups", {}).items():
        if not f["sample"]:
            continue
        if f["distinct_1"] < cfg.min_distinct_1:
            out.append(f"diversity: {g} distinct-1 {f['distinct_1']:.3f} < min_distinct_1 {cfg.min_distinct_1:g}")
        if f["distinct_2"] < cfg.min_distinct_2:
            out.append(f"diversity: {g} distinct-2 {f['distinct_2']:.3f} < min_distinct_2 {cfg.min_distinct_2:g}")
        if f["top_first_line_share"] > cfg.max_first_line_share:
            out.append(f"diversity: {g} repeats one first line in {f['top_first_line_share']:.1%} of records "
                       f"(max_first_line_share {cfg.max_first_line_share:g})")
    cov = div.get("coverage")
    if cov and cov["share"] < cfg.min_coverage:
        out.append(f"diversity: {cov['covered']}/{cov['planned']} planned topic x tone pairs kept "
                   f"({cov['share']:.1%}) < min_coverage {cfg.min_coverage:g}")
    return out


def plan_topics(items: list[Any]) -> dict[str, tuple[str, str, str]]:
    """id -> (group, topic, tone) for plan items that carry a topic and tone (poetry)."""
    return {it.id: (it.group, it.meta["topic"], it.meta["tone"]) for it in items
            if it.meta and "topic" in it.meta and "tone" in it.meta}
