"""Which adapter file a resume can trust: a kill during mlx-lm's save leaves the newest one cut short.

mlx-lm writes `adapters.safetensors` and, every `steps_per_save` steps, a numbered copy
`NNNNNNN_adapters.safetensors` (numbered within the training segment, so the runner records in
state.json which stage iteration each copy holds). A file is trusted when its safetensors header
parses and the tensors it declares fit in the file — checked from the header alone (the format's
8-byte length + JSON header), so no weights are loaded just to look.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

FINAL = "adapters.safetensors"


def adapter_problem(path: Path) -> str | None:
    """Why `path` is not a whole safetensors file, or None when it is."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8)
            if len(head) < 8:
                return f"{size} bytes, no header"
            (n,) = struct.unpack("<Q", head)
            if n > size - 8:
                return f"header of {n} bytes in a {size}-byte file"
            header = json.loads(f.read(n))
    except (OSError, ValueError) as e:
        return f"unreadable ({e})"
    ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
    need = 8 + n + max(ends, default=0)
    if need > size:
        return f"cut short: {size} of {need} bytes"
    return None


def last_good_checkpoint(stage_dir: Path, saved: dict[str, int], upto: int) -> tuple[Path, int] | None:
    """The newest whole numbered checkpoint of a stage at or before iteration `upto`:
    (file, stage iteration). `saved` maps checkpoint file names to the iteration each holds."""
    good = [(it, stage_dir / name) for name, it in saved.items()
            if it <= upto and (stage_dir / name).exists() and adapter_problem(stage_dir / name) is None]
    if not good:
        return None
    it, path = max(good)
    return path, it
