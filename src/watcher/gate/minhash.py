"""MinHash signatures of word-3-gram shingle sets, hashed a whole batch of texts at a time.

Words are hashed all at once per batch with a polynomial hash computed from numpy prefix sums over
the batch's bytes (deterministic across processes, unlike `hash()`); word 3-grams are combined and
mixed; signatures are one-permutation MinHash with densification (see `MinHasher`). Our own code
rather than `datasketch`, which hashes one record at a time with k permutations (too slow for the
gate's budget); a unit test checks our Jaccard estimates against datasketch's.
"""

from __future__ import annotations

import numpy as np

_P = 0x01000193  # odd, so it has an inverse mod 2**32
_P_INV = pow(_P, -1, 2**32)
_K1 = np.uint32(0x9E3779B1)
_K2 = np.uint32(0x85EBCA77)
_K3 = np.uint32(0xC2B2AE3D)
# Word bytes: ASCII letters (folded to lower case) and digits, and every non-ASCII byte, so UTF-8
# letters stay inside their word; everything else separates words.
_FOLD = bytes(c + 32 if 65 <= c <= 90 else c if (97 <= c <= 122 or 48 <= c <= 57 or c >= 128) else 32
              for c in range(256))
_EMPTY = np.uint32(0xFFFFFFFF)


def _mix(x: np.ndarray) -> np.ndarray:
    """A 32-bit integer finaliser (lowbias32): uint32 in, uint32 out, wrapping."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x7FEB352D)
    x = x ^ (x >> np.uint32(15))
    x = x * np.uint32(0x846CA68B)
    return x ^ (x >> np.uint32(16))


def _powers(base: int, n: int) -> np.ndarray:
    """base**0 .. base**(n-1) mod 2**32, by doubling: p[m:2m] = p[:m] * base**m (a few vector
    multiplies; np.cumprod over millions of uint32 is many times slower)."""
    p = np.empty(max(n, 1), dtype=np.uint32)
    p[0] = 1
    m, bm = 1, base
    with np.errstate(over="ignore"):
        while m < n:
            k = min(m, n - m)
            np.multiply(p[:k], np.uint32(bm), out=p[m:m + k])
            m += k
            bm = bm * bm % 2**32
    return p[:n]


class MinHasher:
    """Signatures of word-3-gram shingle sets for batches of normalised (lower-case) texts.

    One-permutation MinHash with rotation densification (Shrivastava & Li, 2014): each shingle is
    hashed once; its hash picks one of k bins and the bin keeps the minimum of a second hash; an
    empty bin borrows the value of the next non-empty bin to its right, tagged with the distance.
    The share of equal bins of two signatures is an unbiased estimate of their Jaccard similarity,
    like k-permutation MinHash, at O(shingles) instead of O(k * shingles).
    """

    def __init__(self, num_perm: int = 64) -> None:
        self.k = num_perm
        self.vbits = 32 - num_perm.bit_length()  # room above the value for the densification distance
        self._pow = np.ones(1, dtype=np.uint32)
        self._ipow = np.ones(1, dtype=np.uint32)

    def _powers(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self._pow) < n:
            m = max(n, 2 * len(self._pow))
            self._pow, self._ipow = _powers(_P, m), _powers(_P_INV, m)
        return self._pow[:n], self._ipow[:n]

    def signatures(self, texts: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For a batch of UTF-8 texts (non-ASCII already lower-cased; ASCII is folded here):
        (signatures (n, k) uint32, has_shingles (n,)
        bool, exact keys (n,) uint64). A word is a run of ASCII letters/digits or non-ASCII bytes;
        the exact key hashes the word sequence, so case, punctuation and spacing do not count."""
        n, k = len(texts), self.k
        lens = np.array(list(map(len, texts)), dtype=np.int64) + 1
        rec_start = np.ones(n, dtype=np.int64)
        np.cumsum(lens[:-1], out=rec_start[1:])
        rec_start[1:] += 1
        # One C pass lower-cases ASCII and turns every non-word byte into a space.
        buf = np.frombuffer((b" " + b" ".join(texts) + b" ").translate(_FOLD), dtype=np.uint8)
        isw = buf != np.uint8(32)
        # buf starts and ends with a space, so word edges alternate start, end, start, end...
        edges = np.flatnonzero(isw[1:] != isw[:-1]) + 1
        starts, ends = edges[0::2], edges[1::2]
        sig = np.full((n, k), _EMPTY, dtype=np.uint32)
        nwords = len(starts)
        pw, ipw = self._powers(max(len(buf), nwords) + 1)
        # First word of each record; records own the words up to the next record's first word.
        fw = np.searchsorted(starts, rec_start)
        nw = np.diff(np.append(fw, nwords))
        keys = np.zeros(n, dtype=np.uint64)
        if nwords == 0:
            return sig, np.zeros(n, dtype=bool), keys
        with np.errstate(over="ignore"):
            # Word hash = polynomial hash of its bytes, from prefix sums over the whole batch.
            pref = np.zeros(len(buf) + 1, dtype=np.uint32)
            np.cumsum(buf * pw[: len(buf)], out=pref[1:], dtype=np.uint32)
            words = _mix((pref[ends] - pref[starts]) * ipw[starts])
            # Exact key: two 32-bit polynomial hashes of the record's word sequence.
            wpref1 = np.zeros(nwords + 1, dtype=np.uint32)
            np.cumsum(words * pw[:nwords], out=wpref1[1:], dtype=np.uint32)
            wpref2 = np.zeros(nwords + 1, dtype=np.uint32)
            np.cumsum(_mix(words ^ _K3) * pw[:nwords], out=wpref2[1:], dtype=np.uint32)
            fwc = np.minimum(fw, nwords - 1)
            h1 = (wpref1[fw + nw] - wpref1[fw]) * ipw[fwc]
            h2 = (wpref2[fw + nw] - wpref2[fw]) * ipw[fwc]
            keys = (h1.astype(np.uint64) << np.uint64(32)) | h2.astype(np.uint64)
            wrec = np.repeat(np.arange(n), nw)
            same = wrec[:-2] == wrec[2:]
            sh = _mix(words[:-2] * _K1 + words[1:-1] * _K2 + words[2:])[same]
            srec = wrec[:-2][same]
            short = np.flatnonzero((nw > 0) & (nw < 3))
            if len(short):  # texts of one or two words get one shingle of what they have
                first = fw[short]
                second = np.where(nw[short] == 2, words[np.minimum(first + 1, nwords - 1)], np.uint32(0))
                sh = np.concatenate([sh, _mix(words[first] * _K1 + second * _K2 + _K3)])
                srec = np.concatenate([srec, short])
            bins = (sh.astype(np.uint64) * np.uint64(k)) >> np.uint64(32)
            vals = _mix(sh ^ _K3) >> np.uint32(32 - self.vbits)
        np.minimum.at(sig.reshape(-1), srec * k + bins.astype(np.int64), vals)
        has = nw > 0
        empty = sig == _EMPTY
        er, ej = np.nonzero(empty & has[:, None])
        if len(er):
            # Rotation densification: an empty bin takes the next non-empty bin's value (circularly),
            # tagged with the distance so it never equals a real value. The next one is found by a
            # search among the filled bins of the row laid out twice (a row with shingles has one).
            twice = np.flatnonzero(~np.concatenate([empty, empty], axis=1))  # row * 2k + column, sorted
            at = twice[np.searchsorted(twice, er * (2 * k) + ej)] - er * (2 * k)  # column, < 2k
            dist = (at - ej).astype(np.uint32)
            sig[er, ej] = sig[er, at % k] + (dist << np.uint32(self.vbits))
        return sig, has, keys
