"""Simulated answers for the agentic job (seed 001): tool-use conversations, and the judge's grades.

`respond_agentic` writes a plausible tool-use conversation as JSON using the category's declared
tools, and at the simulator's defect_rate (a third of it on a retry with feedback) breaks it the way
models do: an undeclared tool, a call without its result, arguments that are not JSON, a missing
required argument. `respond_agentic_judge` answers the judge's grading request. Category, scenario,
tools and the minimum number of calls come from the request's sim metadata, not the prompt.
"""

from __future__ import annotations

import json
import random
from typing import Any

from watcher.simulator.config import SimConfig
from watcher.simulator.reply import SimReply, SimRequest

_FILES = {
    "Rust": ("src/main.rs", "src/config.rs", "src/parser.rs", "src/lib.rs", "tests/integration.rs"),
    "TypeScript": ("src/index.ts", "src/config.ts", "src/server.ts", "src/utils.ts", "test/server.test.ts"),
    "Python": ("app/main.py", "app/config.py", "app/parser.py", "app/utils.py", "tests/test_parser.py"),
    "Go": ("cmd/app/main.go", "internal/config/config.go", "internal/parser/parser.go", "pkg/util/util.go",
           "internal/parser/parser_test.go"),
}
_SYMBOLS = ("parse_config", "Config", "load_settings", "RateLimiter", "handle_request", "Cache", "retry_with_backoff")
_TEST_CMD = {"Rust": "cargo test", "TypeScript": "npm test", "Python": "pytest -q", "Go": "go test ./..."}


def _value_for(name: str, schema: dict[str, Any], lang: str, rng: random.Random) -> Any:
    """A plausible argument value from the parameter's name and type."""
    t = schema.get("type")
    t = t[0] if isinstance(t, list) else t
    if "enum" in schema:
        return rng.choice(schema["enum"])
    files = _FILES.get(lang, _FILES["Rust"])
    if t == "integer":
        return rng.choice([1, 10, 40, 120]) if "line" in name else rng.choice([30, 60, 120])
    if t == "number":
        return round(rng.uniform(0.5, 10), 1)
    if t == "boolean":
        return rng.random() < 0.5
    if t == "array":
        return [_value_for(name.rstrip("s"), schema.get("items") or {"type": "string"}, lang, rng)]
    if t == "object":
        return {}
    if name in ("path", "file"):
        return rng.choice(files)
    if name == "symbol":
        return rng.choice(_SYMBOLS)
    if name == "pattern":
        return rng.choice(["TODO", r"fn \w+_config", "unwrap\\(\\)", "timeout"])
    if name == "glob":
        return {"Rust": "*.rs", "TypeScript": "*.ts", "Python": "*.py", "Go": "*.go"}.get(lang, "*")
    if name == "command":
        return rng.choice([_TEST_CMD.get(lang, "make test"), "git status --short", "ls -la"])
    if name == "filter":
        return rng.choice(["parser", "config", "integration"])
    if name == "content":
        return f"// {lang} module written by the assistant\n"
    if name == "old_text":
        return "let timeout = 30;"
    if name == "new_text":
        return "let timeout = config.timeout_secs;"
    return f"{name}-value"


def _args(tool: dict[str, Any], lang: str, rng: random.Random) -> dict[str, Any]:
    params = tool.get("parameters") or {}
    props: dict[str, Any] = params.get("properties") or {}
    required = list(params.get("required") or [])
    out = {k: _value_for(k, props.get(k) or {"type": "string"}, lang, rng) for k in required}
    for k, s in props.items():  # some optional parameters too, as real calls have
        if k not in out and rng.random() < 0.3:
            out[k] = _value_for(k, s, lang, rng)
    return out


def _tool_result(name: str, args: dict[str, Any], lang: str, rng: random.Random) -> str:
    path = args.get("path") or args.get("file") or _FILES.get(lang, _FILES["Rust"])[0]
    if name in ("run_tests",) or (name == "bash" and "test" in str(args.get("command", ""))):
        n = rng.randint(8, 60)
        return rng.choice([f"{n} passed, 0 failed", f"{n - 1} passed, 1 failed: test_{rng.choice(_SYMBOLS).lower()}"])
    if name == "bash":
        return rng.choice([" M src/config.rs\n?? notes.md", "exit code 0", "total 24\ndrwxr-xr-x src\n-rw-r--r-- README.md"])
    if name == "read_file":
        return f"// {path}\npub fn {rng.choice(_SYMBOLS).lower()}() {{\n    let timeout = 30;\n}}"
    if name in ("write_file", "edit_file"):
        return f"ok: {path} updated"
    if name in ("grep", "references"):
        sym = args.get("symbol") or args.get("pattern") or "x"
        return "\n".join(f"{f}:{rng.randint(3, 200)}: {sym}" for f in rng.sample(_FILES.get(lang, _FILES["Rust"]), 2))
    if name == "definition":
        return f"{path}:{rng.randint(3, 200)}: definition of {args.get('symbol', 'symbol')}"
    if name in ("functions", "classes"):
        return ", ".join(rng.sample(_SYMBOLS, 3))
    if name in ("index", "stats"):
        return f"indexed {rng.randint(20, 400)} files, {rng.randint(200, 5000)} symbols"
    if name == "list_dir":
        return "\n".join(_FILES.get(lang, _FILES["Rust"])[:3])
    return json.dumps({"ok": True})


_COVER = ("cover both paths with a test", "add a test for each value", "note the new option in the README",
          "check the existing tests still pass")


def _final_answer(msgs: list[dict[str, Any]], topic: str, domain: str, lang: str, rng: random.Random) -> str:
    """A closing answer grounded in this conversation's own calls and results (the task, the files,
    the test outcome), so two examples end alike only when their work was alike."""
    calls = [c["function"] for m in msgs for c in m.get("tool_calls") or []]
    results = [str(m.get("content", "")) for m in msgs if m.get("role") == "tool"]
    files: list[str] = []
    for fn in calls:
        try:
            args = json.loads(fn["arguments"])
        except ValueError:
            continue
        f = args.get("path") or args.get("file")
        if isinstance(f, str) and f not in files:
            files.append(f)
    edited = any(fn["name"] in ("edit_file", "write_file") for fn in calls)
    tests = next((r for r in results if "passed" in r), None)
    task = topic.lower().rstrip(".")
    what = (f"I {'changed' if edited else 'went through'} {', '.join(f'`{f}`' for f in files[:3])}"
            if files else f"I used {', '.join(sorted({fn['name'] for fn in calls}))} on the {domain}")
    parts = [rng.choice(["Done.", "All set.", "Finished.", "Summary:", "Here is where it stands."]),
             f"For {task}, {what}.",
             f"The test run says {tests.split(':')[0]}." if tests else
             rng.choice([f"I haven't run `{_TEST_CMD.get(lang, 'make test')}` yet; want me to?",
                         "No tests were run for this step.", "Nothing here needed a test run."]),
             rng.choice(["", f"Nothing else in the {domain} needed touching.", "The old default still applies.",
                         "Tell me if you'd like this behind a flag.", f"{len(calls)} tool calls in all."])]
    return " ".join(p for p in parts if p)


def _conversation(meta: dict[str, Any], tools: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    topic = str(meta.get("topic") or "a change")
    lang = str(meta.get("language") or "Rust")
    domain = str(meta.get("domain") or "project")
    need = int(meta.get("min_tool_calls", 1 if tools else 0))
    msgs: list[dict[str, Any]] = []
    if rng.random() < 0.5:
        msgs.append({"role": "system", "content": "You are a coding assistant working in the user's repository "
                                                  "through tools. Verify before you claim success."})
    msgs.append({"role": "user", "content": rng.choice([
        f"In our {lang} {domain}, can you help with this: {topic.lower()}?",
        f"I'm working on a {lang} {domain}. {topic}: please take care of it.",
        f"Our {domain} (written in {lang}) needs attention. Task: {topic.lower()}.",
    ])})
    use_tools = bool(tools) and (need > 0 or rng.random() < 0.6)
    if not use_tools:
        msgs.append({"role": "assistant", "content": "Before I change anything: should the new behaviour be "
                                                     "configurable, or is a fixed default fine for now?"})
        msgs.append({"role": "user", "content": "Configurable, with the current value as the default."})
        msgs.append({"role": "assistant", "content": f"Understood. For {topic.lower().rstrip('.')} I will add a "
                                                     f"setting to the {lang} {domain}, keep the old value as its "
                                                     f"default, and {rng.choice(_COVER)}."})
        return msgs
    n = 0
    for _round in range(rng.choice([1, 1, 2, 3])):
        k = rng.choice([1, 1, 2, 3]) if "arallel" not in topic else rng.choice([2, 3])
        calls = []
        for _ in range(k):
            n += 1
            tool = rng.choice(tools)
            args = _args(tool, lang, rng)
            calls.append({"id": f"call_{n}", "type": "function",
                          "function": {"name": tool["name"], "arguments": json.dumps(args)}})
        note = rng.choice(["", "Let me look at the relevant code first.", "Checking these in parallel.",
                           "Now I'll verify the change."])
        msgs.append({"role": "assistant", "content": note, "tool_calls": calls})
        for c in calls:
            args = json.loads(c["function"]["arguments"])
            msgs.append({"role": "tool", "tool_call_id": c["id"],
                         "content": _tool_result(c["function"]["name"], args, lang, rng)})
    msgs.append({"role": "assistant", "content": _final_answer(msgs, topic, domain, lang, rng)})
    return msgs


def _break(msgs: list[dict[str, Any]], required_of: dict[str, list[str]],
           rng: random.Random) -> list[dict[str, Any]]:
    """One model-like defect: an undeclared tool, a call left unanswered, args that are not JSON,
    a missing required argument, or (with no calls to break) an unfinished conversation."""
    call_msgs = [m for m in msgs if m.get("tool_calls")]
    if not call_msgs:
        return msgs[:-1]  # ends with a user turn: no final answer
    kind = rng.choice(["bad_name", "no_result", "bad_json", "missing_arg"])
    target = rng.choice(call_msgs)
    call = rng.choice(target["tool_calls"])
    fn = call["function"]
    if kind == "bad_name":
        fn["name"] = rng.choice(["search_code", "open_file", "execute"])
    elif kind == "no_result":
        return [m for m in msgs if m.get("tool_call_id") != call["id"]]
    elif kind == "bad_json":
        fn["arguments"] = fn["arguments"].replace('"', "", 2) if fn["arguments"] != "{}" else "{path: src"
    else:
        args = json.loads(fn["arguments"])
        required = [k for k in (required_of.get(fn["name"]) or []) if k in args]
        if required:
            args.pop(rng.choice(required))
            fn["arguments"] = json.dumps(args)
        else:  # nothing required to drop: break the JSON instead
            fn["arguments"] = "{path: src"
    return msgs


def respond_agentic(req: SimRequest, rng: random.Random, cfg: SimConfig) -> SimReply:
    meta = dict(req.meta)
    declared = [t for t in meta.get("tools") or [] if isinstance(t, dict) and t.get("name")]
    p_defect = cfg.defect_rate / 3 if req.retry else cfg.defect_rate  # feedback: the next try is more often sound
    msgs = _conversation(meta, declared, rng)
    defective = rng.random() < p_defect
    if defective:
        required_of = {t["name"]: list((t.get("parameters") or {}).get("required") or []) for t in declared}
        msgs = _break(msgs, required_of, rng)
    body = json.dumps({"messages": msgs}, ensure_ascii=False, indent=1 if rng.random() < 0.5 else None)
    if rng.random() < 0.25:  # models wrap JSON in fences despite being told not to; the verifier copes
        body = f"```json\n{body}\n```"
    reasoning = (f"The category is {meta.get('group') or 'tool use'}. I plan the user's request, "
                 f"which of the {len(declared)} declared tools to call and with which arguments, the tool "
                 "results, and a final answer that reports what was verified.")
    if req.retry:
        reasoning += " The previous example failed some checks, so I fix exactly those."
    return SimReply(text=body, reasoning=reasoning, defective=defective)


def respond_agentic_judge(req: SimRequest, rng: random.Random, cfg: SimConfig) -> SimReply:
    low = rng.random() < cfg.defect_rate / 3
    score = round(rng.uniform(0.1, 0.3) if low else rng.uniform(0.7, 0.98), 2)
    reasons = ("The tool results do not support the final claim." if low
               else "Realistic request, sensible tool use, and a final answer grounded in the results.")
    return SimReply(text=json.dumps({"score": score, "reasons": reasons}),
                    reasoning="I check realism, tool use and whether the answer follows from the results.",
                    defective=low)
