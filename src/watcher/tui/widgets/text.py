"""Text helpers only the TUI uses: score colours and shortened model names."""

from __future__ import annotations


def short_model(model: str, width: int) -> str:
    if len(model) <= width:
        return model
    tail = model.rsplit("/", 1)[-1]  # "moonshotai/kimi-k2" -> "kimi-k2" before truncating
    return tail if len(tail) <= width else tail[: width - 1] + "…"


def score_style(score: float | None, min_score: float | None = None) -> str:
    """Scores coloured by value: below the run's min_score red, near it yellow, well above green."""
    if score is None:
        return "dim"
    floor = min_score if min_score is not None else 0.8
    if score < floor:
        return "bold red"
    if score < floor + (1.0 - floor) / 2:
        return "yellow"
    return "bold green"
