"""A compact set of record ids for counting distinct accepted items over a whole dataset."""

from __future__ import annotations

from array import array


class IdSet:
    """Set of ids kept as 64-bit hashes in one open-addressing array (about 16 bytes per id).

    A Python set of strings costs ~100 bytes per id; this keeps catch-up memory near flat. Hashes
    are per-process (str hash), which is fine for an in-memory set; a 64-bit collision over a million
    ids has a probability around 1e-8.
    """

    __slots__ = ("_table", "_mask", "_n")

    def __init__(self, capacity: int = 1 << 12) -> None:
        self._table = array("Q", [0]) * capacity
        self._mask = capacity - 1
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def _probe(self, key: str) -> tuple[int, int, bool]:
        """(hash, slot, present): the key's slot, or the empty slot where it would go."""
        h = (hash(key) & 0xFFFFFFFFFFFFFFFF) or 1  # 0 marks an empty slot
        t, m = self._table, self._mask
        i = h & m
        while True:
            v = t[i]
            if v == h:
                return h, i, True
            if v == 0:
                return h, i, False
            i = (i + 1) & m

    def add(self, key: str) -> bool:
        """Insert; False when already present."""
        h, i, present = self._probe(key)
        if present:
            return False
        self._table[i] = h
        self._n += 1
        if self._n * 2 > self._mask:
            self._grow()
        return True

    def __contains__(self, key: str) -> bool:
        return self._probe(key)[2]

    def _grow(self) -> None:
        old = self._table
        cap = len(old) * 2
        t = array("Q", [0]) * cap  # no temporary bytes object: peak stays old + new
        m = cap - 1
        for h in old:
            if h:
                i = h & m
                while t[i]:
                    i = (i + 1) & m
                t[i] = h
        self._table, self._mask = t, m
