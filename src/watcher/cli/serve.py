"""`watcher serve`: the TUI in a browser (textual-serve, one app process per session) and `/metrics`.

The server never owns the run: each browser session runs `watcher serve --session DIR`, a TUI on
an ObserverControl (see serve/control.py), so serving works the same whether the run's supervisor
is alive, detached or finished.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from watcher.cli.options import add_run_dir_flags, port_number
from watcher.errors import EXIT_OK, EXIT_USAGE


class ServeCommand:
    """The `serve` sub-command (memray-style: prepare_parser, then run)."""

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--run", help="run name (default: the newest run)")
        add_run_dir_flags(parser)
        parser.add_argument("--host", default="127.0.0.1",
                            help="address to bind (default 127.0.0.1; any other needs --token)")
        parser.add_argument("--port", type=port_number, default=8000, help="port (default 8000; 0 picks a free one)")
        parser.add_argument("--token", default=None,
                            help="secret every request must carry (default: $WATCHER_SERVE_TOKEN)")
        parser.add_argument("--read-only", action="store_true", help="browser sessions cannot send commands")
        # Internal: one browser session's TUI, started by the server through textual-serve.
        parser.add_argument("--session", metavar="RUN_DIR", help=argparse.SUPPRESS)

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        if args.session:
            return run_session(Path(args.session), read_only=args.read_only)
        from watcher.run.paths import runs_root, select_run
        from watcher.serve.metrics import RunMetrics
        from watcher.tui.web import TOKEN_ENV, WatcherServer, is_loopback

        # Read, then drop from the environment: session processes inherit it and have no use for it.
        token = args.token or os.environ.pop(TOKEN_ENV, None) or None
        if not is_loopback(args.host) and not token:
            print(f"watcher: serving on {args.host} lets anyone who reaches it pause, stop and train; "
                  f"fix: pass --token SECRET (or set {TOKEN_ENV}), or bind 127.0.0.1", file=sys.stderr)
            return EXIT_USAGE
        run_dir = select_run(args.run, args.run_dir, runs_root(None, args.runs_dir)).resolve()
        command = shlex.join([sys.executable, "-m", "watcher.cli.main", "serve", "--session", str(run_dir),
                              *(["--read-only"] if args.read_only else [])])
        server = WatcherServer(command, host=args.host, port=args.port, title=f"watcher · {run_dir.name}",
                               token=token, metrics=RunMetrics(run_dir))

        def ready(url: str) -> None:
            note = " (read-only)" if args.read_only else ""
            auth = "; open it with ?token=<your token> once" if token else ""
            print(f"watcher: serving run {run_dir.name}{note} on {url} (metrics at {url}metrics){auth}; "
                  "Ctrl-C stops serving (the run is not touched)", flush=True)

        try:
            server.serve_until_signal(ready)
        except OSError as e:
            print(f"watcher: cannot listen on {args.host}:{args.port}: {e.strerror or e}; "
                  "fix: pick another --port", file=sys.stderr)
            return EXIT_USAGE
        return EXIT_OK


def run_session(run_dir: Path, read_only: bool) -> int:
    """One browser session: the TUI on the run, never taking ownership unless the user asks for work."""
    from watcher.serve.control import ObserverControl, ReadOnlyControl
    from watcher.tui.app import WatcherApp

    observer = ObserverControl(run_dir)
    control = ReadOnlyControl(observer) if read_only else observer
    title = f"watcher · {run_dir.name}" + (" · read-only" if read_only else "")
    app = WatcherApp(control, title=title)
    if app.run() not in ("stop", "detach"):
        control.detach()  # the browser went away: adopted workers (if any) keep running
    return EXIT_OK
