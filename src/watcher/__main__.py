"""`python -m watcher`: the same entry point as the `watcher` console script."""

from watcher.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
