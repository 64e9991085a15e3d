"""A mistyped command or flag is refused in one line, naming the nearest right spelling."""

from __future__ import annotations

import pytest

from watcher.cli.main import main


@pytest.mark.parametrize(("argv", "line"), [
    (["run"], "watcher: no command 'run' (did you mean 'runs'?); commands: plan, demo,"),
    (["--headless", "--conifg", "x"], "watcher: unknown option '--conifg' (did you mean '--config'?)"),
    (["status", "--rnu", "x"], "watcher status: unknown option '--rnu' (did you mean '--run'?)"),
    (["demo", "--num", "abc"], "watcher demo: argument --num: invalid int value: 'abc'"),
    (["sim", "--port", "99999"], "watcher sim: argument --port: 99999 is not a port"),
])
def test_a_typo_is_one_line_with_the_nearest_spelling(argv, line, capsys):
    with pytest.raises(SystemExit) as ei:
        main(argv)
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1 and "usage:" not in err, err
    assert err.rstrip().endswith("--help'")


def test_help_is_still_the_full_usage(capsys):
    with pytest.raises(SystemExit) as ei:
        main(["demo", "--help"])
    assert ei.value.code == 0 and "usage: watcher demo" in capsys.readouterr().out
