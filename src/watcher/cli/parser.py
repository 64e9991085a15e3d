"""The argument parser: argparse with a refusal of one line (what was wrong, the nearest right
spelling, where help is) instead of its usage block, for the top level and every sub-command.
argparse has no close-match suggestions before Python 3.14's `suggest_on_error`, hence difflib here."""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from typing import NoReturn

from watcher.errors import EXIT_USAGE

_INVALID_CHOICE = re.compile(r"argument (\S+): invalid choice: '([^']*)'")


def _nearest(word: str, names: list[str]) -> str:
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class OneLineParser(argparse.ArgumentParser):
    argv: list[str] | None = None  # what main() parses: a typo'd flag is named rather than the word after it

    def error(self, message: str) -> NoReturn:
        # Flags a sub-command did not know reach the top parser ("unrecognized arguments"): name them
        # with the sub-command's own flags and help.
        parser = self._sub_command() if message.startswith("unrecognized arguments:") else self
        line = parser._explain(message, self)
        self.exit(EXIT_USAGE, f"{parser.prog}: {line}; see '{parser.prog} --help'\n")

    def _explain(self, message: str, top: OneLineParser) -> str:
        m = _INVALID_CHOICE.match(message)
        commands = list(self._sub_parsers())
        if m is None or m.group(1) != "command" or not commands:
            if message.startswith("unrecognized arguments:"):
                flags = [a.split("=")[0] for a in message.split(":", 1)[1].split() if a.startswith("-")]
                if flags:
                    return f"unknown option '{flags[0]}'{_nearest(flags[0], self._flags())}"
            return message
        word = m.group(2)
        # `watcher --conifg x`: argparse reads x as the command; the unknown flag before it is the mistake.
        for arg in top.argv or []:
            if arg == word:
                break
            flag = arg.split("=")[0]
            if flag.startswith("-") and flag not in self._option_string_actions:
                return f"unknown option '{flag}'{_nearest(flag, self._flags())}"
        return f"no command '{word}'{_nearest(word, commands)}; commands: {', '.join(commands)}"

    def _sub_parsers(self) -> dict[str, argparse.ArgumentParser]:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}

    def _sub_command(self) -> OneLineParser:
        subs = self._sub_parsers()
        for arg in self.argv or []:
            if arg in subs and isinstance(subs[arg], OneLineParser):
                return subs[arg]  # type: ignore[return-value]
        return self

    def _flags(self) -> list[str]:
        return [s for s in self._option_string_actions if s.startswith("--")]


def parse(parser: OneLineParser, argv: list[str] | None) -> argparse.Namespace:
    parser.argv = list(sys.argv[1:] if argv is None else argv)
    return parser.parse_args(parser.argv)
