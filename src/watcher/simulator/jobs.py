"""Simulated answers for the agentic (seed 001) and aba (seed 002) jobs.

`respond_agentic` writes a plausible tool-use conversation as JSON using the tools declared in the
request's system prompt, and at the simulator's defect_rate (a third of it on a retry with feedback)
breaks it the way models do: an undeclared tool, a call without its result, arguments that are not
JSON, a missing required argument. `respond_aba` writes a multi-paragraph answer; defective ones run
past the token budget. `respond_agentic_judge` answers the judge's grading request.

sim_responses imports this module to register the responders; nothing here imports sim_responses at
module level, so either may be imported first.
"""

from __future__ import annotations

import json
import random
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watcher.simulator.responses import SimReply
    from watcher.simulator.server import SimConfig

_CATEGORY_RE = re.compile(r"^Category:\s*(\S+)", re.M)
_SCENARIO_RE = re.compile(r"^Scenario for this example:\s*(.+?)\. The project is an? (\w+) (.+?);", re.M)
_MIN_CALLS_RE = re.compile(r"at least (\d+) tool call")
_BUDGET_RE = re.compile(r"within (\d+) tokens")

_FILES = {
    "Rust": ("src/main.rs", "src/config.rs", "src/parser.rs", "src/lib.rs", "tests/integration.rs"),
    "TypeScript": ("src/index.ts", "src/config.ts", "src/server.ts", "src/utils.ts", "test/server.test.ts"),
    "Python": ("app/main.py", "app/config.py", "app/parser.py", "app/utils.py", "tests/test_parser.py"),
    "Go": ("cmd/app/main.go", "internal/config/config.go", "internal/parser/parser.go", "pkg/util/util.go",
           "internal/parser/parser_test.go"),
}
_SYMBOLS = ("parse_config", "Config", "load_settings", "RateLimiter", "handle_request", "Cache", "retry_with_backoff")
_TEST_CMD = {"Rust": "cargo test", "TypeScript": "npm test", "Python": "pytest -q", "Go": "go test ./..."}


def _sim_reply(**kw: Any) -> SimReply:
    from watcher.simulator.responses import SimReply  # lazy: sim_responses imports this module

    return SimReply(**kw)


def _user_texts(messages: list[dict[str, Any]]) -> list[str]:
    from watcher.simulator.responses import user_texts

    return user_texts(messages)


# -- agentic -----------------------------------------------------------------------------------
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


def _conversation(system: str, tools: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    cat_m = _CATEGORY_RE.search(system)
    category = cat_m.group(1) if cat_m else "tool_use"
    sc = _SCENARIO_RE.search(system)
    topic, lang, domain = (sc.group(1), sc.group(2), sc.group(3)) if sc else ("a change", "Rust", "project")
    mc = _MIN_CALLS_RE.search(system)
    need = int(mc.group(1)) if mc else (1 if tools else 0)
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
        msgs.append({"role": "assistant", "content": f"Understood. For the {category.replace('_', ' ')} task I "
                                                     "will add a setting, keep the old value as its default, and "
                                                     "cover both paths with a test."})
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
    msgs.append({"role": "assistant", "content": rng.choice([
        f"Done. I traced the {domain} code, made the change and ran the tests: everything passes.",
        "Summary: the root cause was a hard-coded timeout; it now comes from the config, and the test suite is green.",
        f"Here is what I found and changed ({topic.lower()}); the tests confirm the behaviour.",
    ])})
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


def respond_agentic(system: str | None, messages: list[dict[str, Any]], model: str, rng: random.Random,
                    cfg: SimConfig, tools: list[dict[str, Any]] | None = None) -> SimReply:
    from watcher.generate.jobs.agentic import parse_declared_tools

    sys_text = system or ""
    declared = parse_declared_tools(sys_text)
    retry = len(_user_texts(messages)) > 1  # feedback turns: the next try is more often sound
    p_defect = cfg.defect_rate / 3 if retry else cfg.defect_rate
    msgs = _conversation(sys_text, declared, rng)
    defective = rng.random() < p_defect
    if defective:
        required_of = {t["name"]: list((t.get("parameters") or {}).get("required") or []) for t in declared}
        msgs = _break(msgs, required_of, rng)
    body = json.dumps({"messages": msgs}, ensure_ascii=False, indent=1 if rng.random() < 0.5 else None)
    if rng.random() < 0.25:  # models wrap JSON in fences despite being told not to; the verifier copes
        body = f"```json\n{body}\n```"
    cat_m = _CATEGORY_RE.search(sys_text)
    reasoning = (f"The category is {cat_m.group(1) if cat_m else 'tool use'}. I plan the user's request, "
                 f"which of the {len(declared)} declared tools to call and with which arguments, the tool "
                 "results, and a final answer that reports what was verified.")
    if retry:
        reasoning += " The previous example failed some checks, so I fix exactly those."
    return _sim_reply(text=body, reasoning=reasoning, defective=defective)


def respond_agentic_judge(system: str | None, messages: list[dict[str, Any]], model: str, rng: random.Random,
                          cfg: SimConfig, tools: list[dict[str, Any]] | None = None) -> SimReply:
    low = rng.random() < cfg.defect_rate / 3
    score = round(rng.uniform(0.1, 0.3) if low else rng.uniform(0.7, 0.98), 2)
    reasons = ("The tool results do not support the final claim." if low
               else "Realistic request, sensible tool use, and a final answer grounded in the results.")
    return _sim_reply(text=json.dumps({"score": score, "reasons": reasons}),
                      reasoning="I check realism, tool use and whether the answer follows from the results.",
                      defective=low)


# -- aba ---------------------------------------------------------------------------------------
_OPENERS = (
    "The short answer is that {s} comes down to a few interacting factors, and it helps to take them one at a time.",
    "To answer this well, it is worth separating what is well established about {s} from what is still debated.",
    "Let me work through {s} step by step, starting from the basic idea and then adding the details that matter.",
)
_BODY = (
    "First, consider the underlying mechanism. Most of the behaviour follows from a simple principle, and once that "
    "principle is clear the rest of the picture falls into place without much extra effort.",
    "A concrete example makes this easier to see. Imagine the simplest possible case, then change one thing at a "
    "time and watch how the outcome shifts; each change isolates one of the factors involved.",
    "There is a common misconception worth addressing here: people often assume the effect is caused by the most "
    "visible factor, when in fact a quieter one does most of the work.",
    "It is also worth weighing the trade-offs. Every approach gives something up, and the right choice depends on "
    "which costs are acceptable in the situation at hand rather than on any universal rule.",
    "In practice, the details matter. Small differences in the starting conditions can change the result, so it pays "
    "to check assumptions explicitly instead of relying on intuition alone.",
    "Historically, understanding of this developed gradually, with each new observation correcting an earlier, "
    "simpler model; the current view keeps what worked and discards what did not.",
    "From a quantitative point of view, the numbers tell a clear story once they are laid side by side, and a quick "
    "estimate is usually enough to see which factor dominates.",
)
_CLOSERS = (
    "In summary: the key idea explains most of what we see, the example shows it in action, and the caveats mark "
    "where the simple picture needs refinement.",
    "So the answer is a balance of these considerations, and the sections above give a way to decide in a specific case.",
)


def _answer(subject: str, target_tokens: int, cpt: float, rng: random.Random) -> str:
    paras = [rng.choice(_OPENERS).format(s=subject)]
    target_chars = int(target_tokens * cpt)
    while sum(len(p) + 2 for p in paras) < target_chars - 250:
        paras.append(" ".join(rng.sample(_BODY, 2)))
    paras.append(rng.choice(_CLOSERS))
    return "\n\n".join(paras)


def respond_aba(system: str | None, messages: list[dict[str, Any]], model: str, rng: random.Random,
                cfg: SimConfig, tools: list[dict[str, Any]] | None = None) -> SimReply:
    asks = _user_texts(messages)
    subject = " ".join((asks[-1] if asks else "the question").split())[:90].rstrip(" ?.!")
    subject = subject[0].lower() + subject[1:] if subject else "the question"
    m = _BUDGET_RE.search(system or "")
    budget = int(m.group(1)) if m else 2000
    # A budget stated in the system prompt is usually respected (that is the treatment's effect):
    # defects there are a third as frequent as under the plain control prompt.
    p_over = cfg.defect_rate / 3 if m else cfg.defect_rate
    over = rng.random() < p_over
    target = int(budget * rng.uniform(1.2, 1.6)) if over else int(budget * rng.uniform(0.25, 0.8))
    text = _answer(subject, target, getattr(cfg, "chars_per_token", 4.0), rng)
    reasoning = (f"The user asks about {subject}. I explain the mechanism, give an example, note the trade-offs "
                 f"and finish with a summary{f', keeping within {budget} tokens' if m else ''}.")
    return _sim_reply(text=text, reasoning=reasoning, defective=over)


def register() -> None:
    """Hook called by sim_responses: answer `[watcher-job:agentic|agentic_judge|aba]` requests."""
    from watcher.simulator.responses import register_responder

    register_responder("agentic", respond_agentic)
    register_responder("agentic_judge", respond_agentic_judge)
    register_responder("aba", respond_aba)
