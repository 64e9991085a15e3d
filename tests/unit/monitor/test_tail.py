"""FileTailer: offsets, partial lines, truncation, replacement, missing files, chunk boundaries."""

from __future__ import annotations

import os

from watcher.monitor.tail import FileTailer, MultiTailer


def _append(p, data: bytes) -> None:
    with open(p, "ab") as f:
        f.write(data)


def test_partial_line_is_held_until_its_newline(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_bytes(b'{"a": 1}\n{"b": ')
    t = FileTailer(p)
    b = t.poll()
    assert list(b) == [(0, b'{"a": 1}')] and not b.reset
    assert t.pending_bytes == len(b'{"b": ')
    assert not t.poll()  # nothing complete yet
    _append(p, b"2}")
    assert list(t.poll()) == []
    _append(p, b'\n{"c": 3}\n')
    assert list(t.poll()) == [(9, b'{"b": 2}'), (18, b'{"c": 3}')]
    assert t.bytes_read == p.stat().st_size  # each byte read once


def test_chunk_boundaries_inside_lines_and_never_rereads(tmp_path):
    p = tmp_path / "d.jsonl"
    lines = [(b"x" * n) for n in (1, 7, 0, 13, 2, 30)]
    t = FileTailer(p, chunk_size=3)
    got: list[tuple[int, bytes]] = []
    body = b""
    for ln in lines:  # append one line at a time, in two writes, polling in between
        whole = ln + b"\n"
        for part in (whole[: len(whole) // 2], whole[len(whole) // 2:]):
            _append(p, part)
            body += part
            for b in t.iter_batches():
                got.extend(b)
    offsets, off = [], 0
    for ln in lines:
        offsets.append(off)
        off += len(ln) + 1
    assert got == list(zip(offsets, lines, strict=True))
    assert t.bytes_read == len(body) and t.offset == len(body)


def test_max_bytes_bounds_a_batch_and_sets_more(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_bytes(b"".join(b"%05d\n" % i for i in range(1000)))
    t = FileTailer(p, chunk_size=64, max_bytes=600)
    batches = list(t.iter_batches())
    assert len(batches) > 5 and all(len(b.data) < 700 for b in batches)
    assert all(b.more for b in batches[:-1]) and not batches[-1].more
    assert [int(x) for b in batches for x in b.lines] == list(range(1000))


def test_truncation_is_a_reset(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_bytes(b"one\ntwo\nthree\n")
    t = FileTailer(p)
    assert len(t.poll()) == 3
    with open(p, "r+b") as f:
        f.truncate(0)
    b = t.poll()
    assert b.reset and not b.data
    _append(p, b"four\n")
    b = t.poll()
    assert not b.reset and list(b) == [(0, b"four")]
    # Rewritten in place, smaller than what we had read: a reset, then the new lines from 0.
    p.write_bytes(b"x\n")
    b = t.poll()
    assert b.reset and list(b) == [(0, b"x")]


def test_rewrite_in_place_that_grew_is_a_reset(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_bytes(b"aaaa\nbb\n")
    t = FileTailer(p)
    assert len(t.poll()) == 2
    with open(p, "r+b") as f:  # same inode, new content longer than what we had read
        f.write(b"cccccccccc\ndd\n")
    b = t.poll()
    assert b.reset and b.lines == [b"cccccccccc", b"dd"]


def test_replacement_is_a_reset_with_lines_from_zero(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_bytes(b"a\nb\n")
    t = FileTailer(p)
    assert t.poll().lines == [b"a", b"b"]
    new = tmp_path / "new.jsonl"
    new.write_bytes(b"c\nd\ne\nlonger than before\n")  # bigger than the old file: size alone can't tell
    os.replace(new, p)
    b = t.poll()
    assert b.reset and list(b)[0] == (0, b"c") and len(b) == 4
    assert not t.poll()


def test_missing_file_waits_then_is_read(tmp_path):
    p = tmp_path / "later.jsonl"
    t = FileTailer(p)
    b = t.poll()
    assert b.waiting and not b.reset and not b.data
    p.write_bytes(b"hello\n")
    b = t.poll()
    assert not b.waiting and not b.reset and b.lines == [b"hello"]
    p.unlink()  # removed: waiting again, nothing reset yet
    assert t.poll().waiting
    p.write_bytes(b"again\n")
    b = t.poll()
    assert b.reset and b.lines == [b"again"]


def test_repaired_partial_line_is_dropped_without_reset(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_bytes(b"ok\ncut in ha")
    t = FileTailer(p)
    assert t.poll().lines == [b"ok"]
    # The next writer cuts the dead writer's fragment and appends a whole line (runfiles.JsonlAppender).
    with open(p, "r+b") as f:
        f.truncate(3)
    _append(p, b"fresh line, longer than the fragment\n")
    b = t.poll()
    assert not b.reset and list(b) == [(3, b"fresh line, longer than the fragment")]
    # Same, but polled between the cut and the append.
    _append(p, b"again cut")
    assert not t.poll()
    with open(p, "r+b") as f:
        f.truncate(p.stat().st_size - len(b"again cut"))
    b = t.poll()
    assert not b.reset and not b.data
    _append(p, b"z\n")
    assert t.poll().lines == [b"z"]


def test_multi_tailer(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_bytes(b"1\n2\n")
    m = MultiTailer({"a": a, "b": b})
    out = m.poll()
    assert out["a"].lines == [b"1", b"2"] and out["b"].waiting
    b.write_bytes(b"3\n")
    out = m.poll()
    assert not out["a"] and out["b"].lines == [b"3"]
    m.close()
