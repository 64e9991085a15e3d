"""Text helpers only the TUI uses: state colours and shortened model names."""

from __future__ import annotations

STATE_STYLE = {
    "running": "bold green", "starting": "bold cyan", "pausing": "bold yellow", "paused": "bold yellow",
    "done": "bold blue", "failed": "bold red", "stopped": "bold magenta", "detached": "bold magenta",
    "stopping": "bold yellow", "restarting": "yellow", "dead": "bold red",
}


def short_model(model: str, width: int) -> str:
    if len(model) <= width:
        return model
    tail = model.rsplit("/", 1)[-1]  # "moonshotai/kimi-k2" -> "kimi-k2" before truncating
    return tail if len(tail) <= width else tail[: width - 1] + "…"
