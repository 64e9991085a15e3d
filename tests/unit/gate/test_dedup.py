"""Our one-permutation MinHash against the `datasketch` library as a reference: on shingle sets of
known overlap both estimate the same Jaccard similarity, within MinHash's sampling error."""

from __future__ import annotations

import random

import numpy as np
import pytest

from watcher.gate.dedup import NearDupIndex
from watcher.gate.minhash import MinHasher

datasketch = pytest.importorskip("datasketch")

K = 128


def shingles(words: list[str]) -> set[str]:
    """Word 3-grams, the shingles MinHasher hashes."""
    return {" ".join(words[i:i + 3]) for i in range(len(words) - 2)}


def pair(rng: random.Random, n: int, shared: int) -> tuple[list[str], list[str]]:
    """Two n-word texts whose first `shared` words agree and whose other words are all distinct."""
    base = [f"w{rng.randrange(10**9)}" for _ in range(n)]
    other = base[:shared] + [f"x{rng.randrange(10**9)}" for _ in range(n - shared)]
    return base, other


def exact_jaccard(a: list[str], b: list[str]) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def ours(a: list[str], b: list[str]) -> float:
    sig, has, _ = MinHasher(K).signatures([" ".join(a).encode(), " ".join(b).encode()])
    assert has.all()
    return float((sig[0] == sig[1]).mean())


def reference(a: list[str], b: list[str]) -> float:
    ma, mb = datasketch.MinHash(num_perm=K, seed=1), datasketch.MinHash(num_perm=K, seed=1)
    for s in shingles(a):
        ma.update(s.encode())
    for s in shingles(b):
        mb.update(s.encode())
    return float(ma.jaccard(mb))


def test_jaccard_estimates_agree_with_datasketch() -> None:
    rng = random.Random(3)
    diffs = []
    for shared in (0, 20, 40, 60, 80, 90, 100, 120):
        for _ in range(4):
            a, b = pair(rng, 120, shared)
            j, mine, ref = exact_jaccard(a, b), ours(a, b), reference(a, b)
            # Each estimate has a standard error of sqrt(J(1-J)/K) <= 0.045 at K=128.
            assert abs(mine - j) <= 0.16, (shared, j, mine)
            assert abs(mine - ref) <= 0.2, (shared, mine, ref)
            diffs.append(mine - ref)
    # No bias between the two: the mean difference is far below a single estimate's error.
    assert abs(float(np.mean(diffs))) <= 0.03
    assert float(np.mean(np.abs(diffs))) <= 0.06


def test_identical_and_disjoint_sets_are_exact_in_both() -> None:
    rng = random.Random(5)
    a, _ = pair(rng, 50, 0)
    c, d = pair(rng, 50, 0)
    assert ours(a, list(a)) == reference(a, list(a)) == 1.0
    assert ours(c, d) == pytest.approx(reference(c, d), abs=0.05)
    assert ours(c, d) <= 0.05


def test_index_flags_pairs_the_reference_calls_near_duplicates() -> None:
    """At threshold 0.8 the index reports the pairs whose reference estimate is clearly above it
    and none clearly below it."""
    rng = random.Random(11)
    texts, refs = [], []
    for shared in (118, 110, 60, 0):
        a, b = pair(rng, 120, shared)
        texts += [" ".join(a).encode(), " ".join(b).encode()]
        refs.append(reference(a, b))
    sig, has, _ = MinHasher(64).signatures(texts)
    dup = NearDupIndex(64, 0.8).add_batch(0, sig, has)
    for p, ref in enumerate(refs):
        if ref >= 0.9:
            assert dup.get(2 * p + 1, (None,))[0] == 2 * p, (p, ref, dup)
        elif ref <= 0.6:
            assert 2 * p + 1 not in dup, (p, ref, dup)


def test_index_drops_exactly_what_a_brute_force_scan_drops() -> None:
    # A few hundred records in clusters (one poem, a few words changed each) plus unrelated ones,
    # fed in small batches so both the earlier-batch and the in-batch passes run. The reference:
    # in stream order, a row is a near duplicate iff some earlier kept row shares >= threshold of
    # its signature slots (LSH with min_bands >= 1 cannot miss such a pair while buckets stay small).
    rng = random.Random(5)
    vocab = [f"w{i}" for i in range(3000)]
    bases = [[rng.choice(vocab) for _ in range(60)] for _ in range(12)]
    texts = []
    for n in range(360):
        words = list(bases[n % 12]) if n % 5 else [rng.choice(vocab) for _ in range(60)]
        for _ in range(rng.randint(0, 6)):
            words[rng.randrange(len(words))] = rng.choice(vocab)
        texts.append(" ".join(words).encode())
    sig, has, _ = MinHasher(64).signatures(texts)
    threshold = 0.85
    index = NearDupIndex(64, threshold)
    dropped: set[int] = set()
    for row0 in range(0, len(texts), 50):
        dropped |= set(index.add_batch(row0, sig[row0:row0 + 50], has[row0:row0 + 50]))
    need = index.need
    kept: list[int] = []
    expected: set[int] = set()
    for r in range(len(texts)):
        if kept and (sig[kept] == sig[r]).sum(axis=1).max() >= need:
            expected.add(r)
        else:
            kept.append(r)
    assert 50 < len(expected) < 300  # clusters both kept and dropped records
    assert dropped == expected
