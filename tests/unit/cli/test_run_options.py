"""The run flags reach the run as a typed RunOptions: every flag has a field, demos stay small."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from watcher.cli.launch import DEMO_NUM, resolve_run_config
from watcher.cli.main import build_parser, main
from watcher.cli.options import RunOptions, add_run_flags
from watcher.config import PACKAGED_CONFIGS

FLAG_FIELDS = {"json": "as_json"}  # flags whose field is spelled differently


def test_every_run_flag_has_a_field():
    p = argparse.ArgumentParser()
    add_run_flags(p)
    dests = {a.dest for a in p._actions if a.dest != "help"}
    fields = {f.name for f in dataclasses.fields(RunOptions)}
    assert {FLAG_FIELDS.get(d, d) for d in dests} | {"headless"} == fields


def test_top_level_flags_parse_into_options():
    args = build_parser().parse_args([
        "--headless", "--config", "c.toml", "--run", "r1", "--forms", "Sonnet,Haiku", "--num", "7",
        "--min-score", "0.7", "--model-mix", "0.25", "--openrouter-model", "m/x", "--output", "o.jsonl",
        "--backend", "claude", "--workers", "3", "--json", "--interval", "2.5", "--detach"])
    assert RunOptions.from_args(args, headless=args.headless) == RunOptions(
        headless=True, config="c.toml", run="r1", forms="Sonnet,Haiku", num=7, min_score=0.7, model_mix=0.25,
        openrouter_model="m/x", output="o.jsonl", backend="claude", workers=3, as_json=True, interval=2.5,
        detach=True)


def test_demo_takes_either_headless_flag():
    parser = build_parser()
    for argv in (["demo", "--headless"], ["--headless", "demo"]):
        args = parser.parse_args(argv)
        assert args.command == "demo" and (args.headless or args.sub_headless)
    args = parser.parse_args(["demo"])
    assert not (args.headless or args.sub_headless)


def test_demo_of_a_full_size_config_gets_a_small_num():
    poetry = str(PACKAGED_CONFIGS / "poetry.toml")
    assert resolve_run_config(RunOptions(config=poetry), demo=True).poetry.num == DEMO_NUM
    assert resolve_run_config(RunOptions(config=poetry, num=5), demo=True).poetry.num == 5
    assert resolve_run_config(RunOptions(config=poetry), demo=False).poetry.num == 100


@pytest.mark.parametrize("cmd", [["sim", "--port", "99999"], ["serve", "--port", "x"], ["--headless", "--metrics-port", "-1"]])
def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(cmd, capsys):
    with pytest.raises(SystemExit) as ei:
        main(cmd)
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert "port" in err and "Traceback" not in err
