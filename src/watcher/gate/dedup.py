"""Duplicate checks of the quality gate: exact text, repeated ids and MinHash near duplicates.

Signatures come from gate/minhash.py (`MinHasher`). Candidate pairs come
from LSH bands kept in sorted numpy runs (not Python dicts), batch by batch (`NearDupIndex`), and
every candidate is confirmed by its estimated Jaccard (share of equal slots) before it counts.
Our own LSH rather than `datasketch`'s: that keeps buckets in Python dicts, far too slow for the
gate's 200k-record budget, and cannot be fed batch by batch in stream order the way the export needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from watcher.gate.checks import CheckResult
from watcher.gate.export import ExportWriter
from watcher.gate.minhash import MinHasher

MINHASH_BATCH = 4096
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_HIGH1 = np.uint64(0x8080808080808080)


def _differing_bytes(words: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Per pair, the number of differing bytes between rows i and j of (words, rows) uint64."""
    ne = np.zeros(len(i), dtype=np.int64)
    for w in words:
        x = w[i] ^ w[j]
        # High bit of each nonzero byte: (x | ((x & 0x7f..) + 0x7f..)) & 0x80..
        ne += np.bitwise_count((x | ((x & _LOW7) + _LOW7)) & _HIGH1)
    return ne


def choose_bands(num_perm: int, threshold: float, recall: float = 0.995) -> tuple[int, int]:
    """(bands, rows), bands * rows <= num_perm: the most selective banding (fewest candidates, fewest
    sorts) that still finds a pair at `threshold` with probability >= `recall`."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= recall:
            best = (bands, rows)
    return best


class NearDupIndex:
    """Near-duplicate lookups in stream order, batch by batch, so duplicates are known before their
    batch is exported. Kept rows' LSH band keys live in sorted runs per band (merged like an LSM
    tree, so inserting stays O(log n) amortised); a candidate is confirmed by the share of equal
    signature slots (the Jaccard estimate) before it counts. Greedy: first kept wins.

    A row needs one confirmed match to be a near duplicate, so candidates are tried in rounds: each
    round compares every still-open (row, band) entry with its next bucket member, and a row leaves
    as soon as one comparison hits. In a big duplicate cluster almost every row hits on its first
    comparison, so the cost no longer grows with the cluster (buckets are not expanded up front)."""

    MAX_BUCKET = 32  # earlier kept rows one band bucket is compared with
    ROUND = 8  # bucket members per entry per round (the rounds decide which partner is named)
    SEEN_BITS = 25  # a 32 MB byte map: ~7% false positives at 2.4M band keys (200k records)

    def __init__(self, num_perm: int, threshold: float) -> None:
        self.k = num_perm
        self.threshold = threshold
        self.need = int(np.ceil(num_perm * (threshold - 1e-9)))  # equal slots for a match
        self.bands, self.rows = choose_bands(num_perm, threshold)
        self.min_bands = max(1, self.bands - (num_perm - self.need))
        rng = np.random.default_rng(7)
        self._r = rng.integers(1, 2**63, self.rows, dtype=np.uint64) | np.uint64(1)
        self._sig = np.empty((0, num_perm), dtype=np.uint32)  # every row's signature, grown by doubling
        # One byte per band key, in 64-bit words; padding bytes are equal in every row, so they are
        # left out of the count of differing bytes.
        self._fp = np.zeros(((self.bands + 7) // 8, 0), dtype=np.uint64)  # (words, rows): 1-D gathers
        self._sb = np.zeros((8, 0), dtype=np.uint64)  # the low byte of each of the first 64 slots
        self._n = 0
        self._salt = (np.arange(self.bands, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))[None, :]
        # Sorted (band key, row, mask, reference) runs. A band key's reference is a fixed row (the
        # first with that key); an entry's mask marks the signature slots (of the first 64) where its
        # row differs from the reference, so popcount(mask_a ^ mask_b) is an exact lower bound of
        # the slots where rows a and b differ (one word per pair, `_bound`).
        self._runs: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._seen = np.zeros(1 << self.SEEN_BITS, dtype=bool)
        self._lookup_only = False
        # Offsets within a bucket after which each round of 1, 2, 4, then ROUND candidates ends.
        steps = [min(2**t, self.ROUND) for t in range(self.MAX_BUCKET)]
        self._round_ends = np.cumsum(steps)
        self._mask = np.uint64((1 << self.SEEN_BITS) - 1)

    def _keys(self, sig: np.ndarray) -> np.ndarray:
        """(n, bands) uint64 band keys, salted per band so all bands share one sorted index."""
        n = len(sig)
        b = sig[:, : self.bands * self.rows].reshape(n, self.bands, self.rows).astype(np.uint64)
        with np.errstate(over="ignore"):
            keys = (b * self._r).sum(axis=2, dtype=np.uint64)
            keys ^= keys >> np.uint64(29)
            keys ^= self._salt
        return keys

    def _fingerprints(self, bk: np.ndarray) -> np.ndarray:
        """(n, words) uint64: byte b is the top byte of band key b (mixed), zero padded."""
        n, w = len(bk), len(self._fp)
        with np.errstate(over="ignore"):
            top = ((bk * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(56)).astype(np.uint8)
        pad = np.zeros((n, 8 * w), dtype=np.uint8)
        pad[:, : self.bands] = top
        return pad.view(np.uint64).reshape(n, w)

    def _store(self, row0: int, sig: np.ndarray) -> None:
        end = row0 + len(sig)
        if end > len(self._sig):
            size = max(end, 2 * len(self._sig))
            grown = np.empty((size, self.k), dtype=np.uint32)
            grown[: self._n] = self._sig[: self._n]
            self._sig = grown
            fp = np.zeros((len(self._fp), size), dtype=np.uint64)
            fp[:, : self._n] = self._fp[:, : self._n]
            self._fp = fp
            sb = np.zeros((8, size), dtype=np.uint64)
            sb[:, : self._n] = self._sb[:, : self._n]
            self._sb = sb
        self._sig[row0:end] = sig
        low = np.zeros((len(sig), 64), dtype=np.uint8)  # slots past k stay equal (zero)
        w = min(self.k, 64)
        low[:, :w] = sig[:, :w]
        self._sb[:, row0:end] = low.view(np.uint64).T
        self._n = end

    def _masks(self, rows: np.ndarray, refs: np.ndarray) -> np.ndarray:
        """(n,) uint64: bit s set where rows[x] and refs[x] differ in signature slot s (s < 64)."""
        out = np.zeros(len(rows), dtype=np.uint64)
        todo = np.flatnonzero(rows != refs)  # a row is its own reference for most keys
        if len(todo):
            w = min(self.k, 64)
            d = np.zeros((len(todo), 64), dtype=bool)
            d[:, :w] = self._sig[rows[todo], :w] != self._sig[refs[todo], :w]
            out[todo] = np.packbits(d, axis=1, bitorder="little").view(np.uint64).ravel()
        return out

    def _bound(self, ma: np.ndarray, mb: np.ndarray) -> np.ndarray:
        """Indices of the pairs whose masks (against the same reference) allow a match: a slot
        where exactly one row equals the reference is a slot where the two differ."""
        return np.flatnonzero(np.bitwise_count(ma ^ mb) <= self.k - self.need)

    def _hits(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Estimated Jaccard of row pairs (i, j): share of equal signature slots, 0 for pairs that
        cannot reach the threshold. Two exact filters before the full comparison, each counting
        differing bytes with a few 64-bit word operations (a byte may match by chance, never
        miss): one byte per band key (a pair at the threshold has at least `min_bands` equal bands),
        then one byte per slot (it differs in at most k - need slots)."""
        out = np.zeros(len(i), dtype=np.float64)
        ok = np.flatnonzero(_differing_bytes(self._fp, i, j) <= self.bands - self.min_bands)
        if len(ok):
            i, j = i[ok], j[ok]
            close = np.flatnonzero(_differing_bytes(self._sb, i, j) <= self.k - self.need)
            if len(close):
                i, j = i[close], j[close]
                out[ok[close]] = (self._sig[i] == self._sig[j]).sum(axis=1) / self.k
        return out

    def match(self, sig: np.ndarray, valid: np.ndarray) -> dict[int, tuple[int, float]]:
        """Look a batch up without adding it (`--against`: earlier runs' exports): {position in the
        batch: (indexed row, estimated Jaccard)}. The batch sits above the indexed rows only for
        the lookup only, and are overwritten by the next batch."""
        row0, n = self._n, len(sig)
        self._lookup_only = True
        try:
            hits = self.add_batch(row0, sig, valid)
        finally:
            self._lookup_only = False
            self._n = row0
        return {r - row0: v for r, v in hits.items() if 0 <= r - row0 < n}

    def add_batch(self, row0: int, sig: np.ndarray, valid: np.ndarray) -> dict[int, tuple[int, float]]:
        """Rows row0.. with their signatures; `valid` marks rows to consider (others are skipped and
        never indexed). Returns {row: (earlier kept row, estimated Jaccard)} for near duplicates."""
        self._store(row0, sig)
        idx = np.flatnonzero(valid)
        if len(idx) == 0:
            return {}
        bk = self._keys(sig[idx])
        self._fp[:, idx + row0] = self._fingerprints(bk).T
        keys = bk.ravel()  # row-major: (row, band)
        rows = np.repeat(idx + row0, self.bands)
        order = np.argsort(keys, kind="stable")
        sk, sr = keys[order], rows[order]  # sorted; equal keys keep rows in stream order
        n = len(sig)
        status = np.zeros(n, dtype=np.int8)  # 0 open, 1 kept, 2 near duplicate (by batch position)
        status[~valid] = 1  # never compared, never a partner (they are not in any bucket)
        partner = np.full(n, -1, dtype=np.int64)
        psim = np.zeros(n, dtype=np.float64)
        thr = self.threshold - 1e-9
        # Each entry's reference (-1: its key is new) and its mask against it.
        eref = np.full(len(sk), -1, dtype=np.int64)
        emask = np.zeros(len(sk), dtype=np.uint64)
        # 1. Earlier batches: every bucket member there is kept, so rounds only advance or hit.
        maybe = np.flatnonzero(self._seen[(sk & self._mask).astype(np.intp)])
        for run_keys, run_rows, run_masks, run_refs in self._runs:
            if len(maybe) == 0:
                break
            qk = sk[maybe]
            lo = np.searchsorted(run_keys, qk)
            hi = np.minimum(np.searchsorted(run_keys, qk, "right"), lo + self.MAX_BUCKET)
            live = np.flatnonzero(hi > lo)
            lo, hi, qe = lo[live], hi[live], maybe[live]
            first = np.flatnonzero(eref[qe] < 0)  # the key's first run: its reference is there
            if len(first):
                fe = qe[first]
                eref[fe] = run_refs[lo[first]]
                emask[fe] = self._masks(sr[fe], eref[fe])
            qr = sr[qe]
            # Two passes: every entry's first candidate (most rows of a duplicate cluster hit
            # there), then all the rest of its bucket at once for the rows still open. The partner
            # is what comparing in rounds of 1, 2, 4, then 8 candidates per entry would find first:
            # the hit of the earliest round, then the earliest row.
            for first_only in (True, False):
                open_ = status[qr - row0] == 0
                lo, hi, qr, qe = lo[open_], hi[open_], qr[open_], qe[open_]
                cnt = np.minimum(hi - lo, 1) if first_only else hi - lo
                # Repeats rather than gathers through an entry index: the cheapest expansion.
                shift = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt)
                at = np.arange(len(shift)) + shift
                ok = self._bound(np.repeat(emask[qe], cnt), run_masks[at])
                at = at[ok]
                cand, qj = run_rows[at], np.repeat(qr, cnt)[ok]
                sims = self._hits(cand, qj)
                hit = np.flatnonzero(sims >= thr)
                if len(hit):
                    # Several entries of one row may hit: the last write per row wins, so the
                    # order is by row, then round and row of the partner, reversed.
                    off = at[hit] - np.repeat(lo, cnt)[ok][hit] + (not first_only)  # in the bucket
                    rnd = np.searchsorted(self._round_ends, off, "right")
                    o = np.lexsort((cand[hit], rnd, qj[hit]))[::-1]
                    at = qj[hit][o] - row0
                    status[at] = 2
                    partner[at] = cand[hit][o]
                    psim[at] = sims[hit][o]
                lo = lo + cnt
                more = lo < hi
                lo, hi, qr, qe = lo[more], hi[more], qr[more], qe[more]
        if self._lookup_only:
            dups = np.flatnonzero(status == 2)
            return {int(row0 + d): (int(partner[d]), float(psim[d])) for d in dups}
        # 2. This batch: an entry's candidates are the earlier rows of its bucket, which may still
        # be open; an entry waits on an open candidate (always an earlier row, so the earliest open
        # row never waits and every round makes progress).
        # Rows the index already called near duplicates are nobody's partner: leave them out.
        if (status == 2).any():
            live = np.flatnonzero(status[sr - row0] != 2)
            sk, sr, eref, emask = sk[live], sr[live], eref[live], emask[live]
        grp_start = np.concatenate([[0], np.flatnonzero(sk[1:] != sk[:-1]) + 1])
        gid = np.repeat(np.arange(len(grp_start)), np.diff(np.append(grp_start, len(sk))))
        # A new key's reference is its first row here (kept or not: every row's signature is stored).
        new = np.flatnonzero(eref < 0)
        eref[new] = sr[grp_start[gid[new]]]
        new = new[eref[new] != sr[new]]
        emask[new] = self._masks(sr[new], eref[new])
        pos = np.arange(len(sk)) - grp_start[gid]  # rank of the entry's row in its bucket
        ent = np.flatnonzero((pos > 0) & (status[sr - row0] == 0))
        base, lim = grp_start[gid[ent]], np.minimum(pos[ent], self.MAX_BUCKET)
        er, em = sr[ent], emask[ent]
        ptr = np.zeros(len(ent), dtype=np.int64)
        while True:
            # Rows of this batch with no entry left are kept (before anything waits on them).
            rem = np.zeros(n, dtype=bool)
            rem[er - row0] = True
            status[(status == 0) & ~rem] = 1
            if not len(er):
                break
            cand = sr[base + ptr]
            cs = status[cand - row0]
            skip = cs == 2
            ptr[skip] += 1
            ready = np.flatnonzero(cs == 1)
            if len(ready):
                sims = np.zeros(len(ready), dtype=np.float64)
                ok = self._bound(em[ready], emask[base[ready] + ptr[ready]])
                sims[ok] = self._hits(cand[ready[ok]], er[ready[ok]])
                hit = sims >= thr
                h = ready[hit]
                if len(h):
                    o = np.lexsort((cand[h], er[h]))[::-1]
                    at = er[h][o] - row0
                    status[at] = 2
                    partner[at] = cand[h][o]
                    psim[at] = sims[hit][o]
                ptr[ready[~hit]] += 1
            more = (ptr < lim) & (status[er - row0] == 0)  # entries left, of rows still open
            er, em, base, lim, ptr = er[more], em[more], base[more], lim[more], ptr[more]
        dups = np.flatnonzero(status == 2)
        dup = {int(row0 + d): (int(partner[d]), float(psim[d])) for d in dups}
        if len(dups) and len(sr):
            keep = np.flatnonzero(status[sr - row0] != 2)
            sk, sr, emask, eref = sk[keep], sr[keep], emask[keep], eref[keep]
        self._insert(sk, sr, emask, eref)
        return dup

    def _insert(self, keys: np.ndarray, rows: np.ndarray, masks: np.ndarray, refs: np.ndarray) -> None:
        """Add a sorted run; merge while the newest run is at least half its predecessor, so there
        are O(log n) runs and each key is merged O(log n) times."""
        if len(rows) == 0:
            return
        self._seen[(keys & self._mask).astype(np.intp)] = True
        runs = self._runs
        runs.append((keys, rows, masks, refs))
        while len(runs) >= 2 and 2 * len(runs[-1][0]) >= len(runs[-2][0]):
            new, old = runs.pop(), runs.pop()
            # A linear merge of two sorted runs; side="right" keeps earlier rows first among equals.
            at = np.searchsorted(old[0], new[0], side="right") + np.arange(len(new[0]))
            size = len(old[0]) + len(new[0])
            other = np.ones(size, dtype=bool)
            other[at] = False
            other = np.flatnonzero(other)  # integer positions scatter faster than a boolean mask
            merged = []
            for a, b in zip(old, new, strict=True):
                m = np.empty(size, dtype=a.dtype)
                m[at], m[other] = b, a
                merged.append(m)
            runs.append((merged[0], merged[1], merged[2], merged[3]))


class ScanState:
    """What the streaming pass keeps per candidate row (a record that passed the content checks):
    its line, id, group and split, plus the rows the duplicate checks dropped."""

    def __init__(self, ds: Path, index: NearDupIndex | None) -> None:
        self.ds = ds
        self.total = 0
        self.index = index
        # One tuple per row (line, id, group, split, split point): one append per record.
        self.rows: list[tuple[int, str, str, int, float]] = []
        self.dropped: set[int] = set()  # exact duplicates, repeated ids and near duplicates


class Dedup:
    """Duplicate checks over batches of candidate rows, in stream order: exact text, then id, then
    (MinHash signatures handed to the near-duplicate index) near text. A batch's export lines are
    committed once its exact duplicates and repeated ids are known, so those are never written.
    (A helper thread for the signatures was tried: no gain, the numpy glue holds the GIL.)"""

    def __init__(self, st: ScanState, g: Any, checks: dict[str, CheckResult], writer: ExportWriter | None) -> None:
        self.st = st
        self.writer = writer
        self.exact, self.by_id = g.exact_duplicates, g.duplicate_ids
        self.hasher = MinHasher(g.near_duplicate_permutations) if (g.exact_duplicates or g.near_duplicates) else None
        self.c_exact, self.c_id, self.c_near = checks["exact_duplicate"], checks["duplicate_id"], \
            checks["near_duplicate"]
        self.seen_text: dict[int, int] = {}
        self.seen_id: dict[str, int] = {}
        self.first_row = 0
        self.texts: list[str] = []
        self.against: Any = None  # an AgainstIndex (gate/against.py): earlier runs' exports

    def add(self, text: str) -> None:
        self.texts.append(text)
        if len(self.texts) >= MINHASH_BATCH:
            self.flush()

    def flush(self) -> None:
        texts, st = self.texts, self.st
        if not texts:
            return
        n, row0 = len(texts), self.first_row
        self.first_row += n
        self.texts = []
        keys: list[int] = []
        sig = has = None
        if self.hasher is not None:
            # ASCII is folded inside signatures(); only non-ASCII text needs str.lower().
            sig, has, key_arr = self.hasher.signatures(
                [t.encode() if t.isascii() else t.lower().encode() for t in texts])
            keys = key_arr.tolist()
        alive = np.ones(n, dtype=bool)
        dropped_before = len(st.dropped)
        seen_text, seen_id, rows = self.seen_text, self.seen_id, st.rows
        for i in range(n):
            row = row0 + i
            if self.exact:
                first = seen_text.get(keys[i])
                if first is not None:
                    alive[i] = False
                    st.dropped.add(row)
                    self.c_exact.add_text(rows[row][0], rows[row][1], texts[i],
                                          f"same text as line {rows[first][0]}", rows[first][0])
                    continue
            if self.by_id:
                rid = rows[row][1]
                first = seen_id.get(rid)
                if first is not None:
                    alive[i] = False
                    st.dropped.add(row)
                    self.c_id.add_text(rows[row][0], rid, texts[i], f"id already kept at line {rows[first][0]}",
                                       rows[first][0])
                    continue
                seen_id[rid] = row
            if self.exact:
                seen_text[keys[i]] = row
        if self.against is not None and sig is not None and has is not None:
            for pos, (other, sim) in sorted(self.against.index.match(sig, has & alive).items()):
                alive[pos] = False
                st.dropped.add(row0 + pos)
                run, rid = self.against.source(other)
                self.c_near.add_text(rows[row0 + pos][0], rows[row0 + pos][1], texts[pos],
                                     f"≈{sim:.2f} of run {run} (id {rid})")
        if st.index is not None and sig is not None and has is not None:
            for row, (earlier, sim) in sorted(st.index.add_batch(row0, sig, has & alive).items()):
                st.dropped.add(row)
                self.c_near.add_text(rows[row][0], rows[row][1], texts[row - row0],
                                     f"≈{sim:.2f} of line {rows[earlier][0]} (id {rows[earlier][1]})",
                                     rows[earlier][0])
        if self.writer is not None:
            self.writer.commit(st.dropped, len(st.dropped) != dropped_before)
