"""Verifier speed: dictionary load time, sonnet verifications per second in one process, and the ratio
to a baseline of bare dictionary lookups of the same words, measured in the same run.

    python bench/verify.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import random
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = ap.parse_args()

    from watcher.verify.forms import get_form, phonetics, verify
    from watcher.verify.forms.constraints.base import Poem

    t0 = time.perf_counter()
    d = phonetics.load_dictionary()
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    import pronouncing

    pronouncing.init_cmu()
    pron_s = time.perf_counter() - t0

    # Distinct inputs so per-line caches do not turn the run into one repeated lookup: the corpus
    # sonnets, each with lines rotated and end words varied, give a few hundred different poems.
    sonnets = get_form("Shakespearean sonnet").corpus()
    rng = random.Random(1)
    poems: list[str] = []
    for s in sonnets:
        lines = Poem(s).lines
        for k in range(60):
            ls = lines[:]
            i = rng.randrange(len(ls))
            ls[i] = ls[i] + (" " + rng.choice(["again", "still", "too", "anew", "alone"]) if k else "")
            poems.append("\n".join(ls))
    words = [w for p in poems for ln in p.splitlines() for w in phonetics.words(ln)]

    def rate(fn, items) -> float:
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            for it in items:
                fn(it)
            n += len(items)
        return n / (time.perf_counter() - start)

    for p in poems:  # warm the caches once, as a long-running worker would be
        verify(p, "Sonnet")
    verify_rate = rate(lambda p: verify(p, "Sonnet"), poems)
    words_per_sonnet = len(words) / len(poems)
    lookup_rate = rate(d.get, words)  # bare dictionary lookups, words per second
    baseline_sonnets = lookup_rate / words_per_sonnet

    print(f"dictionary load (own parser, lazy): {load_s * 1000:.0f} ms for {len(d)} words"
          f"   [pronouncing.init_cmu: {pron_s * 1000:.0f} ms]")
    print(f"distinct sonnets: {len(poems)}   words per sonnet: {words_per_sonnet:.0f}")
    print(f"verify(sonnet): {verify_rate:,.0f} sonnets/s  ({1e6 / verify_rate:.0f} us each)")
    print(f"baseline, bare dict lookups of the same words: {lookup_rate:,.0f} words/s "
          f"= {baseline_sonnets:,.0f} sonnets/s")
    print(f"ratio verify / baseline: {verify_rate / baseline_sonnets:.4f} "
          f"(verification costs {baseline_sonnets / verify_rate:,.0f}x the bare lookups)")


if __name__ == "__main__":
    main()
