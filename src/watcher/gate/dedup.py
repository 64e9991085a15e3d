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
    ROUND = 8  # bucket members per entry per round against the index
    PAIR_BITS = 21  # a 16 MB table of pairs already compared
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
        self._n = 0
        self._salt = (np.arange(self.bands, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))[None, :]
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []  # sorted (band key, row) runs
        self._seen = np.zeros(1 << self.SEEN_BITS, dtype=bool)
        self._pairs = np.full(1 << self.PAIR_BITS, -1, dtype=np.int64)
        self._last = np.zeros(1 << self.PAIR_BITS, dtype=np.int32)
        self._lookup_only = False
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
        self._sig[row0:end] = sig
        self._n = end

    def _hits(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Estimated Jaccard of row pairs (i, j): share of equal signature slots, 0 for pairs that
        cannot reach the threshold. A pair at the threshold differs in at most k - need slots, so
        at least `min_bands` of its bands are equal; each row keeps one byte per band key, and
        counting equal bytes (a few 64-bit word operations) rules most pairs out exactly (a byte
        may match by chance, never miss), before the full 64-slot comparison."""
        out = np.zeros(len(i), dtype=np.float64)
        # A row meets the same candidate through several bands: a table of pairs already compared
        # (each compared pair missed, or its row would not still be open) skips the repeats. A slot
        # holds the last pair hashed there, so a collision costs a comparison, never a miss.
        code = (j.astype(np.int64) << 32) | i  # the same number for a pair in every batch
        with np.errstate(over="ignore"):
            slot = ((code.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - self.PAIR_BITS)
                    ).astype(np.intp)
        new = np.flatnonzero(self._pairs[slot] != code) if not self._lookup_only else np.arange(len(i))
        sn, cn = slot[new], code[new]
        self._pairs[sn] = cn
        # The same pair twice in this call: keep the one whose position landed in the slot.
        self._last[sn] = np.arange(len(new), dtype=np.int32)
        w = self._last[sn]
        first = np.flatnonzero((w == np.arange(len(new))) | (cn[w] != cn))
        if len(first) < len(new):
            new = new[first]
        if len(new) < len(i):
            i, j = i[new], j[new]
        ne = np.zeros(len(i), dtype=np.int64)
        for fp in self._fp:
            x = fp[i] ^ fp[j]
            # High bit of each nonzero byte: (x | ((x & 0x7f..) + 0x7f..)) & 0x80..
            ne += np.bitwise_count((x | ((x & _LOW7) + _LOW7)) & _HIGH1)
        ok = np.flatnonzero(ne <= self.bands - self.min_bands)
        if len(ok):
            out[new[ok]] = (self._sig[i[ok]] == self._sig[j[ok]]).sum(axis=1) / self.k
        return out

    def match(self, sig: np.ndarray, valid: np.ndarray) -> dict[int, tuple[int, float]]:
        """Look a batch up without adding it (`--against`: earlier runs' exports): {position in the
        batch: (indexed row, estimated Jaccard)}. The batch sits above the indexed rows only for
        the lookup, and the table of compared pairs is bypassed, since those rows are reused."""
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
        # 1. Earlier batches: every bucket member there is kept, so rounds only advance or hit.
        maybe = np.flatnonzero(self._seen[(sk & self._mask).astype(np.intp)])
        for run_keys, run_rows in self._runs:
            if len(maybe) == 0:
                break
            qk, qr = sk[maybe], sr[maybe]
            lo = np.searchsorted(run_keys, qk)
            hi = np.minimum(np.searchsorted(run_keys, qk, "right"), lo + self.MAX_BUCKET)
            live = np.flatnonzero(hi > lo)
            lo, hi, qr = lo[live], hi[live], qr[live]
            step = 1  # most rows of a duplicate cluster hit on their first candidate
            while len(qr):
                open_ = status[qr - row0] == 0
                lo, hi, qr = lo[open_], hi[open_], qr[open_]
                if not len(qr):
                    break
                # The next few members of every open entry at once: fewer, larger numpy calls.
                cnt = np.minimum(hi - lo, step)
                step = min(2 * step, self.ROUND)
                rep = np.repeat(np.arange(len(qr)), cnt)
                off = np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
                cand, qj = run_rows[lo[rep] + off], qr[rep]
                sims = self._hits(cand, qj)
                hit = np.flatnonzero(sims >= thr)
                if len(hit):
                    # Several entries of one row may hit at once: the earliest partner wins.
                    o = np.lexsort((cand[hit], qj[hit]))[::-1]
                    at = qj[hit][o] - row0
                    status[at] = 2
                    partner[at] = cand[hit][o]
                    psim[at] = sims[hit][o]
                lo = lo + cnt
                more = lo < hi
                lo, hi, qr = lo[more], hi[more], qr[more]
        if self._lookup_only:
            dups = np.flatnonzero(status == 2)
            return {int(row0 + d): (int(partner[d]), float(psim[d])) for d in dups}
        # 2. This batch: an entry's candidates are the earlier rows of its bucket, which may still
        # be open; an entry waits on an open candidate (always an earlier row, so the earliest open
        # row never waits and every round makes progress).
        # Rows the index already called near duplicates are nobody's partner: leave them out.
        if (status == 2).any():
            live = status[sr - row0] != 2
            sk, sr = sk[live], sr[live]
        grp_start = np.concatenate([[0], np.flatnonzero(sk[1:] != sk[:-1]) + 1])
        gid = np.repeat(np.arange(len(grp_start)), np.diff(np.append(grp_start, len(sk))))
        pos = np.arange(len(sk)) - grp_start[gid]  # rank of the entry's row in its bucket
        ent = np.flatnonzero((pos > 0) & (status[sr - row0] == 0))
        base, lim = grp_start[gid[ent]], np.minimum(pos[ent], self.MAX_BUCKET)
        er = sr[ent]
        ptr = np.zeros(len(ent), dtype=np.int64)
        while True:
            open_ = status[er - row0] == 0
            er, base, lim, ptr = er[open_], base[open_], lim[open_], ptr[open_]
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
                ci, cj = cand[ready], er[ready]
                sims = self._hits(ci, cj)
                hit = sims >= thr
                h = ready[hit]
                if len(h):
                    o = np.lexsort((cand[h], er[h]))[::-1]
                    at = er[h][o] - row0
                    status[at] = 2
                    partner[at] = cand[h][o]
                    psim[at] = sims[hit][o]
                ptr[ready[~hit]] += 1
            more = ptr < lim
            er, base, lim, ptr = er[more], base[more], lim[more], ptr[more]
        dups = np.flatnonzero(status == 2)
        dup = {int(row0 + d): (int(partner[d]), float(psim[d])) for d in dups}
        if len(dups) and len(sr):
            keep = status[sr - row0] != 2
            sk, sr = sk[keep], sr[keep]
        self._insert(sk, sr)
        return dup

    def _insert(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Add a sorted run; merge while the newest run is at least half its predecessor, so there
        are O(log n) runs and each key is merged O(log n) times."""
        if len(rows) == 0:
            return
        self._seen[(keys & self._mask).astype(np.intp)] = True
        runs = self._runs
        runs.append((keys, rows))
        while len(runs) >= 2 and 2 * len(runs[-1][0]) >= len(runs[-2][0]):
            (k2, r2), (k1, r1) = runs.pop(), runs.pop()
            # A linear merge of two sorted runs; side="right" keeps earlier rows first among equals.
            at = np.searchsorted(k1, k2, side="right") + np.arange(len(k2))
            mk = np.empty(len(k1) + len(k2), dtype=k1.dtype)
            mr = np.empty(len(mk), dtype=r1.dtype)
            other = np.ones(len(mk), dtype=bool)
            other[at] = False
            mk[at], mr[at] = k2, r2
            mk[other], mr[other] = k1, r1
            runs.append((mk, mr))


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
