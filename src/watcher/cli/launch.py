"""What the run commands do: `watcher`, `watcher --headless`, `watcher demo` and `watcher attach`.

Resolve the config and the run, check keys, start (or resume, or adopt) the workers, then hand the
supervisor to the TUI or to the headless reporter. The commands (cli/run.py, demo.py, attach.py)
parse the flags into `RunOptions` and call in here.
"""

from __future__ import annotations

import signal
import sys
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from watcher.cli.options import RunOptions
from watcher.config import (
    RunConfig,
    apply_overrides,
    get_api_key,
    parse_config,
    read_config_text,
    resolve_config_path,
    seed_flag_overrides,
    toml_error_message,
)
from watcher.errors import ConfigError, DiskFullError
from watcher.run.lock import acquire_run
from watcher.run.paths import RunPaths, check_run_name, open_run_dir, runs_root, select_run

SIM_KEY_ENV = "WATCHER_SIM_KEY"
SIM_KEY = "sim-key"
# Headless prints every record from the snapshot's feed: keep more than a 4 Hz poll can ever see arrive.
HEADLESS_FEED = 20_000


def _overrides(opts: RunOptions, data: dict[str, Any]) -> dict[str, Any]:
    num = opts.num
    job = data.get("job", "poetry")
    ov = seed_flag_overrides(
        forms=opts.forms, num=num if job == "poetry" else None, min_score=opts.min_score,
        model_mix=opts.model_mix, openrouter_model=opts.openrouter_model, output=opts.output,
        backend=opts.backend,
    )
    if ov.get("backends.openrouter.model") and "openrouter" not in data.get("backends", {}):
        raise ConfigError("--openrouter-model given but the config has no [backends.openrouter] table; "
                          "fix: add one, or set the model in the config")
    if num is not None and job == "agentic":
        # --num is "examples per group" for every job: per category here, prompts for aba.
        for cat in data.get("agentic", {}).get("categories", []):
            cat["target"] = num
    elif num is not None and job == "aba":
        ov["aba.max_prompts"] = num
    if opts.max_cost is not None:
        ov["max_cost_usd"] = opts.max_cost
    if opts.workers is not None:
        for name in data.get("backends", {}):
            ov[f"backends.{name}.workers"] = opts.workers
    if opts.batch:
        for name in data.get("backends", {}):
            ov[f"backends.{name}.batch"] = True
    return ov


DEMO_NUM = 3  # examples per group when a demo runs a full-size config without --num


def simulate_backends(data: dict[str, Any], sim: Any) -> dict[str, Any]:
    """Point every backend at the simulated provider: the demo needs no key and no network. The
    real providers' rate limits do not apply to it (the simulator has its own)."""
    for b in data.get("backends", {}).values():
        b["simulated"] = True
        b["rpm"] = 0
        b["tpm"] = 0
        b["api_key_env"] = SIM_KEY_ENV
        b.setdefault("batch_poll_s", 0.5)  # the simulator's batches end in seconds: poll them often
        b["base_url"] = sim.base_url_anthropic if b.get("kind") == "anthropic" else sim.base_url_openai
        b.pop("extra_headers", None)
    return data


# Simulator pacing for `watcher demo`: "real" answers like a hosted model (1-3 s a call, a few
# rate-limit waits and server errors) so the TUI has a minute of run to watch and every key can be
# tried; "fast" (headless, tests) keeps the same faults but answers in a fraction of a second.
PACES: dict[str, dict[str, float]] = {
    "real": {"latency_s": 2.0, "jitter": 0.5, "error_429": 0.04, "retry_after_s": 2.0,
             "error_500": 0.03, "overloaded_529": 0.01, "batch_delay_s": 8.0, "batch_error_rate": 0.03},
    "fast": {"latency_s": 0.15, "jitter": 0.3, "error_500": 0.02, "overloaded_529": 0.01,
             "batch_delay_s": 0.5, "batch_error_rate": 0.03},
}


def start_simulator(port: int = 0, pace: str = "fast"):
    from watcher.simulator.config import SimConfig
    from watcher.simulator.server import SimServer

    # A few faults and defects so the demo shows retries, truncations and rate-limit handling.
    sim = SimServer(SimConfig(api_key=SIM_KEY, defect_rate=0.3, flaw_rate=0.15, truncate=0.03, empty=0.01, **PACES[pace]),
                    port=port)
    sim.start()
    return sim


def resolve_run_config(opts: RunOptions, demo: bool, sim: Any = None) -> RunConfig:
    path = resolve_config_path(opts.config, "demo" if demo else "poetry")
    try:
        data = tomllib.loads(read_config_text(path))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(toml_error_message(path, e)) from None
    if demo and opts.config and opts.num is None:
        opts = replace(opts, num=DEMO_NUM)  # a demo of a full-size job (2,525 agentic examples) stays a demo
    data = apply_overrides(data, _overrides(opts, data))
    if demo and sim is not None:
        data = simulate_backends(data, sim)
    cfg = parse_config(data, str(path))
    from watcher.generate.jobs import make_job

    make_job(cfg)  # unknown forms, missing prompt files: one clear error before anything starts
    return cfg


def check_keys(cfg: RunConfig) -> None:
    for name in cfg.active_backends():
        b = cfg.backends[name]
        if not b.simulated:
            get_api_key(name, b)


def _where(opts: RunOptions, cfg: RunConfig, demo: bool) -> tuple[str, Path, str | None]:
    """(run name, runs folder, a note) from --run-dir, or --run, or the default name under --runs-dir:
    today's run of this job, or a new one when today's was made with another job (the note says so)."""
    from watcher.generate.run_names import default_run_name, pick_run_name

    if opts.run_dir:
        d = open_run_dir(opts.run_dir)
        return d.name, d.parent, None
    root = runs_root(cfg, opts.runs_dir)
    if opts.run:
        return check_run_name(opts.run), root, None
    name, note = pick_run_name(cfg, default_run_name(cfg, demo), root)
    return check_run_name(name), root, note


def run_main(opts: RunOptions, demo: bool = False, pace: str | None = None) -> int:
    from watcher.generate.supervisor import Supervisor, prepare_run, run_dir_for

    headless = opts.headless
    if opts.dry_run:  # the plan and its cost: no simulator, no key, no run directory
        from watcher.cli.planview import print_plan

        return print_plan(resolve_run_config(opts, demo), opts)
    if opts.run:
        check_run_name(opts.run)  # a bad name is refused before anything starts
    sim = start_simulator(pace=pace or ("fast" if headless or opts.detach else "real")) if demo else None
    sup = None
    lock = None
    try:
        cfg = resolve_run_config(opts, demo, sim)
        check_keys(cfg)
        run_name, root, note = _where(opts, cfg, demo)
        run_dir = run_dir_for(cfg, run_name, root)
        run_dir.mkdir(parents=True, exist_ok=True)
        # One owner per run: refused (naming the owner) before this start touches any of the run's files.
        lock = acquire_run(run_dir, "watcher demo" if demo else "watcher")
        run_dir, resumed, changes = prepare_run(cfg, run_name, root)
        if note and not opts.as_json:
            print(f"watcher: {note}", file=sys.stderr)
        out = sys.stdout
        if headless and not opts.as_json:
            what = "resuming" if resumed else "starting"
            print(f"watcher: {what} run {run_name} in {run_dir}"
                  + (f" (simulated provider on 127.0.0.1:{sim.port})" if sim else ""), file=out)
            for c in changes:
                print(f"  changed since last start: {c}", file=out)
        from watcher.generate.budget import projected_warning
        from watcher.providers.http import backend_warnings

        for warning in backend_warnings(cfg):
            print(f"watcher: warning: {warning}", file=sys.stderr)
        warning = projected_warning(RunPaths(run_dir, cfg.output), cfg)
        if warning:
            print(f"watcher: {warning}", file=sys.stderr)
        sup = Supervisor(run_dir, cfg, env={SIM_KEY_ENV: SIM_KEY} if demo else None,
                         feed_size=HEADLESS_FEED if headless else 200, lock=lock)
        from watcher.serve.exporter import MetricsEndpoint

        # Bound before any worker starts, so a taken port is a clean refusal.
        metrics = MetricsEndpoint(sup, opts.metrics_port if headless and not opts.detach else None)
        sup.start()
        if opts.detach:
            sup.detach()
            print(f"watcher: workers started for run {run_name}; follow with `watcher attach --run {run_name}`")
            return 0
        if headless:
            from watcher.monitor.headless import run_headless

            with metrics as watched:
                return budget_exit(sup, run_headless(watched, json_mode=opts.as_json, interval=opts.interval))
        return budget_exit(sup, run_tui(sup, demo=demo))
    except DiskFullError:
        if sup is not None:
            sup.terminate_workers()  # they cannot write either; their in-flight items stay pending
        raise
    finally:
        if sim is not None:
            sim.stop()
        if lock is not None:
            lock.release()


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)  # a process manager, a closed terminal


def budget_exit(sup: Any, code: int) -> int:
    """A TUI run that ended at its spend ceiling with items left: the budget line and exit 3 (headless
    says it in its own final line)."""
    from watcher.errors import EXIT_OK, EXIT_RUN_FAILED
    from watcher.generate.budget import budget_stop_message

    if code != EXIT_OK or sup.detached or not sup.finished():
        return code
    msg = budget_stop_message(sup.paths, sup.cfg)
    if msg is None:
        return code
    print(f"watcher: {msg}")
    return EXIT_RUN_FAILED


def run_tui(sup: Any, demo: bool = False) -> int:
    from watcher.tui.app import WatcherApp

    # The app itself stops or detaches the workers when the user picks in its quit dialog.
    app = WatcherApp(sup, title=f"watcher · {sup.run_dir.name}")
    # SIGTERM/SIGHUP: leave the app without its dialog, so the workers are stopped gracefully below.
    old = {s: signal.signal(s, lambda *_: app.exit("signal")) for s in STOP_SIGNALS}
    try:
        result = app.run()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if result == "detach":
        note = " (the demo's simulated provider stops with this process: its workers will wait and retry)" if demo else ""
        print(f"watcher: detached; workers keep running. Re-attach with `watcher attach --run {sup.run_dir.name}`{note}")
        return 0
    if result != "stop":  # the app ended without the dialog (an error): never leave orphans behind
        print("watcher: stopping workers (in-flight calls finish)...")
        sup.stop(graceful=True)
    from watcher.monitor.headless import summary_line

    print(summary_line(sup.snapshot()))
    return 0


def run_attach(opts: RunOptions) -> int:
    from watcher.generate.supervisor import Supervisor
    from watcher.run.paths import load_run_config

    run_dir = select_run(opts.run, opts.run_dir, runs_root(None, opts.runs_dir))
    cfg = load_run_config(run_dir)
    sim = None
    env = None
    if any(b.simulated for b in cfg.backends.values()):
        # A demo run's workers talk to the simulator on the port in its config: bring it back.
        port = _port_of(next(b.base_url for b in cfg.backends.values() if b.simulated))
        try:
            sim = start_simulator(port)
        except OSError:
            sim = None  # still running in another process
        env = {SIM_KEY_ENV: SIM_KEY}
    try:
        sup = Supervisor.attach(run_dir, env=env, feed_size=HEADLESS_FEED if opts.headless else 200)
        if sup.read_only:
            owner = sup_owner(run_dir)
            print(f"watcher: run {run_dir.name} is owned by {owner}: watching read-only "
                  "(no worker is restarted from here)", file=sys.stderr)
        if opts.headless:
            from watcher.monitor.headless import run_headless

            return budget_exit(sup, run_headless(sup, json_mode=opts.as_json, interval=opts.interval))
        return budget_exit(sup, run_tui(sup, demo=sim is not None))
    finally:
        if sim is not None:
            sim.stop()


def sup_owner(run_dir: Path) -> str:
    from watcher.run.lock import RunLock

    pid = RunLock(run_dir).owner_pid()
    return f"pid {pid}" if pid else "another process"


def _port_of(url: str | None) -> int:
    from urllib.parse import urlparse

    return urlparse(url or "").port or 0
