"""Seed 001: the structure verifier for agentic chat/tool-use examples, plus an optional LLM judge.

An example is ONE conversation in OpenAI chat format with tool calls (what mlx-lm's chat/tools
fine-tuning consumes):

    {"messages": [{"role": "system"|"user"|"assistant"|"tool", "content": ...,
                   "tool_calls": [{"id", "type": "function", "function": {"name", "arguments": "<json>"}}],
                   "tool_call_id": ...}]}

`verify_example` scores its structure 0..1 with a rubric in the poetry rubric's shape (criterion,
expected, actual, score, passed, explanation, instruction, weight). An example passes only when every
structural criterion passes: a half-valid tool conversation teaches the wrong thing, whatever its mean.
The judge (`judge_request`, then `generate.jobs.base.run_judge`) blends a model's 0..1 quality score in afterwards.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jsonschema

from watcher.verify.rubric import RubricItem

ROLES = ("system", "user", "assistant", "tool")
_FENCE_RE = re.compile(r"^\s*```[A-Za-z0-9_\-]*\s*\n(.*?)\n?```\s*$", re.S)

# Criteria in rubric order; every rubric lists all of them so reports line up across attempts.
CRITERIA = ("json", "roles", "final_answer", "tool_args", "tool_names", "tool_schema", "tool_results",
            "tool_use", "length")


@dataclass
class Limits:
    min_turns: int = 2  # messages after the optional system message
    max_turns: int = 24
    max_chars: int = 24000  # all message contents and tool-call arguments together
    min_tool_calls: int = 0


@dataclass
class AgenticResult:
    score: float
    passed: bool
    rubric: list[dict[str, Any]]
    messages: list[dict[str, Any]]  # normalised (arguments as JSON strings); [] when the JSON is unusable
    response: str  # the final assistant content
    tool_calls: int = 0
    errors: list[str] = field(default_factory=list)

    def failing(self) -> list[dict[str, Any]]:
        return [r for r in self.rubric if not r["passed"]]


def _item(criterion: str, expected: str, actual: str, score: float, explanation: str,
          instruction: str, weight: float = 1.0) -> dict[str, Any]:
    score = max(0.0, min(1.0, score))
    return RubricItem(criterion, expected, actual, score, score >= 1.0, explanation, instruction, weight).to_dict()


# -- parsing -----------------------------------------------------------------------------------
def strip_fences(text: str) -> str:
    """The JSON inside a ```json ... ``` fence (models add them despite being told not to)."""
    t = text.strip()
    m = _FENCE_RE.match(t)
    if m:
        return m.group(1).strip()
    # A fence somewhere inside surrounding prose.
    m = re.search(r"```(?:json)?\s*\n(.*?)\n```", t, re.S)
    return m.group(1).strip() if m else t


def parse_example(text: str) -> tuple[Any, str | None]:
    """(parsed value, None) or (None, error). Accepts a bare list of messages as well as {"messages": [...]}."""
    body = strip_fences(text)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as e:
        # Prose before the object: decode from the first brace and ignore what trails it.
        start = body.find("{")
        if start < 0:
            return None, f"not JSON: {e.msg} at line {e.lineno} column {e.colno}"
        try:
            data, _ = json.JSONDecoder().raw_decode(body[start:])
        except json.JSONDecodeError:
            return None, f"not JSON: {e.msg} at line {e.lineno} column {e.colno}"
    if isinstance(data, list):
        data = {"messages": data}
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        return None, 'JSON has no "messages" list'
    if not data["messages"] or not all(isinstance(m, dict) for m in data["messages"]):
        return None, '"messages" must be a non-empty list of objects'
    return data, None


# -- tool-argument validation: the jsonschema library (every keyword: anyOf, oneOf, $ref, minimum, ...) ----
_REQUIRED_RE = re.compile(r"^'(.*)' is a required property$")
_EXTRA_RE = re.compile(r"'((?:[^'\\]|\\.)*)'")


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Any:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema)


def _where(path: Any, root: str) -> str:
    """`a.b[0]` for the argument at that JSON path; `arguments` for the whole object."""
    out = root
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f"{out and '.'}{part}"
    return out or "arguments"


def _readable(err: jsonschema.ValidationError, root: str) -> list[str]:
    """One line per problem, naming the argument and the failure."""
    where = _where(err.absolute_path, root)
    kw = err.validator
    if kw == "type":
        types = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        return [f"{where} should be {' or '.join(types)}, got {type(err.instance).__name__}"]
    if kw == "required":
        m = _REQUIRED_RE.match(err.message)
        return [f"{where} lacks required '{m.group(1) if m else err.message}'"]
    if kw == "additionalProperties" and isinstance(err.instance, dict):
        props = (err.schema or {}).get("properties") or {}
        extra = [k for k in err.instance if k not in props] or _EXTRA_RE.findall(err.message)
        return [f"{where} has unknown key '{k}'" for k in extra]
    if kw == "enum":
        return [f"{where} must be one of {err.validator_value}"]
    return [f"{where}: {err.message}"]


def schema_errors(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Violations of the JSON schema (any draft; 2020-12 unless `$schema` says otherwise); [] when
    valid. An invalid schema is reported as one problem rather than raised."""
    try:
        validator = _validator(json.dumps(schema, sort_keys=True))
    except jsonschema.SchemaError as e:
        return [f"the parameter schema is invalid: {e.message}"]
    except (TypeError, ValueError) as e:  # not JSON-serialisable
        return [f"the parameter schema is invalid: {e}"]
    errs: list[str] = []
    # Outer problems first, so the rubric's first message is about the argument object itself.
    for err in sorted(validator.iter_errors(value), key=lambda e: (len(e.absolute_path), [str(x) for x in e.absolute_path])):
        errs.extend(_readable(err, path))
    return errs


# -- the verifier ------------------------------------------------------------------------------
def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content)


def _normalise_call(call: Any) -> tuple[dict[str, Any], str, Any, str | None]:
    """(call in OpenAI shape with string arguments, tool name, parsed arguments or None, args error)."""
    if not isinstance(call, dict):
        return {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}, "", None, \
            "tool call is not an object"
    fn = call.get("function") if isinstance(call.get("function"), dict) else call
    name = str(fn.get("name") or "")
    raw = fn.get("arguments", fn.get("input", ""))
    parsed: Any = None
    err: str | None = None
    if isinstance(raw, dict):  # unambiguous, so accepted and stored as the JSON string the format wants
        parsed, raw = raw, json.dumps(raw, ensure_ascii=False)
    elif isinstance(raw, str):
        try:
            parsed = json.loads(raw) if raw.strip() else None
        except json.JSONDecodeError as e:
            err = f"arguments of {name or 'a call'} are not JSON ({e.msg})"
        if parsed is None and err is None:
            err = f"arguments of {name or 'a call'} are empty"
        elif err is None and not isinstance(parsed, dict):
            err = f"arguments of {name or 'a call'} are not a JSON object"
            parsed = None
    else:
        err = f"arguments of {name or 'a call'} are neither a JSON string nor an object"
        raw = json.dumps(raw) if raw is not None else ""
    norm = {"id": str(call.get("id") or ""), "type": "function", "function": {"name": name, "arguments": raw}}
    return norm, name, parsed, err


def verify_example(text: str, tools: dict[str, dict[str, Any]], allowed: list[str] | None = None,
                   limits: Limits | None = None) -> AgenticResult:
    """Score one generated example. `tools` maps declared tool names to their parameters schema;
    `allowed` (default: all declared) is what this category may call."""
    lim = limits or Limits()
    allowed_set = set(tools if allowed is None else allowed) & set(tools)
    data, perr = parse_example(text)
    if data is None:
        rubric = [_item("json", 'one JSON object {"messages": [...]}', perr or "unparseable", 0.0,
                        "the output could not be read as a conversation",
                        'Answer with only one JSON object {"messages": [...]}: no prose, no markdown fences, '
                        "every string properly quoted and escaped.")]
        rubric += [_item(c, "checked after the JSON parses", "not checked", 0.0, "the JSON did not parse",
                         "Fix the JSON first.") for c in CRITERIA[1:]]
        return AgenticResult(score=0.0, passed=False, rubric=rubric, messages=[], response="", errors=[perr or ""])

    raw_msgs: list[dict[str, Any]] = data["messages"]
    rubric = [_item("json", 'one JSON object {"messages": [...]}', f"{len(raw_msgs)} messages", 1.0,
                    "parses", "")]

    # Walk once: normalise, check the role grammar, pair tool calls with results.
    msgs: list[dict[str, Any]] = []
    order_errs: list[str] = []
    calls: list[tuple[str, str, Any, str | None]] = []  # (id, name, parsed args, args error)
    pending: dict[str, str] = {}  # call id -> tool name, waiting for its result
    unanswered: list[str] = []
    orphans: list[str] = []
    answered = 0
    total_chars = 0
    prev: dict[str, Any] | None = None
    for i, m in enumerate(raw_msgs):
        role = m.get("role")
        content = m.get("content")
        if role not in ROLES:
            order_errs.append(f"message {i} has role {role!r}")
            prev = {"role": role}
            continue
        if content is not None and not isinstance(content, str | list):
            order_errs.append(f"message {i} ({role}) content is not text")
        text_c = _content_text(content)
        total_chars += len(text_c)
        out: dict[str, Any] = {"role": role, "content": text_c}
        prole = prev.get("role") if prev else None
        p_calls = bool(prev and prev.get("tool_calls"))
        if role != "tool" and pending:
            # The previous assistant's calls had to be answered before anything else is said.
            unanswered.extend(f"{pending[c]} ({c})" for c in pending)
            pending = {}
        if role == "system":
            if i != 0:
                order_errs.append(f"message {i}: a system message may only come first")
        elif role == "user":
            if prole == "user":
                order_errs.append(f"message {i}: two user messages in a row")
            elif prole == "tool":
                order_errs.append(f"message {i}: user speaks before the assistant answers the tool result")
            if not text_c.strip():
                order_errs.append(f"message {i}: empty user message")
        elif role == "assistant":
            if prole in (None, "system"):
                order_errs.append(f"message {i}: the conversation must start with a user message")
            elif prole == "assistant":
                order_errs.append(f"message {i}: two assistant messages in a row")
            tcs = m.get("tool_calls") or []
            if not isinstance(tcs, list):
                tcs = [tcs]
            norm_calls = []
            for j, tc in enumerate(tcs):
                norm, name, parsed, aerr = _normalise_call(tc)
                if not norm["id"]:
                    norm["id"] = f"call_{i}_{j}"  # ids are optional in some formats; results then cannot match
                calls.append((norm["id"], name, parsed, aerr))
                pending[norm["id"]] = name or "?"
                total_chars += len(norm["function"]["arguments"])
                norm_calls.append(norm)
            if norm_calls:
                out["tool_calls"] = norm_calls
            elif not text_c.strip():
                order_errs.append(f"message {i}: assistant message with neither text nor tool calls")
        elif role == "tool":
            if not (prole == "tool" or (prole == "assistant" and p_calls)):
                order_errs.append(f"message {i}: a tool result must follow an assistant tool call")
            cid = str(m.get("tool_call_id") or "")
            if cid in pending:
                out["tool_call_id"] = cid
                if m.get("name"):
                    out["name"] = str(m["name"])
                pending.pop(cid)
                answered += 1
            else:
                orphans.append(cid or f"(message {i} has no tool_call_id)")
                if cid:
                    out["tool_call_id"] = cid
        msgs.append(out)
        prev = {"role": role, "tool_calls": out.get("tool_calls")}
    if pending:
        unanswered.extend(f"{pending[c]} ({c})" for c in pending)

    last = raw_msgs[-1]
    if last.get("role") != "assistant" or last.get("tool_calls"):
        order_errs.append("the conversation must end with an assistant answer without tool calls")
    rubric.append(_item(
        "roles", "[system] user, then assistant turns; tool results right after their calls; ends with assistant",
        "valid" if not order_errs else f"{len(order_errs)} problem(s)", 0.0 if order_errs else 1.0,
        "; ".join(order_errs[:3]) or "roles follow the chat format",
        "Order the messages: an optional system message first, then user, then assistant; put each tool "
        "result (role tool) directly after the assistant message that called it; end with a plain assistant "
        "answer." if order_errs else ""))

    final = _content_text(last.get("content")) if last.get("role") == "assistant" and not last.get("tool_calls") else ""
    rubric.append(_item("final_answer", "a non-empty final assistant answer",
                        f"{len(final)} chars" if final.strip() else "missing", 1.0 if final.strip() else 0.0,
                        "the example ends with the assistant's answer" if final.strip()
                        else "there is no final assistant text to learn from",
                        "" if final.strip() else "End with an assistant message that sums up the result in prose."))

    n = len(calls)
    bad_args = [e for (_, _, _, e) in calls if e]
    rubric.append(_item("tool_args", "every call's arguments are a JSON object",
                        f"{n - len(bad_args)}/{n} parse" if n else "no calls", (n - len(bad_args)) / n if n else 1.0,
                        "; ".join(bad_args[:3]) or "all arguments parse",
                        "Write each call's arguments as a JSON object encoded in a string, e.g. "
                        '"arguments": "{\\"path\\": \\"src/main.rs\\"}".' if bad_args else ""))

    bad_names = [nm or "(no name)" for (_, nm, _, _) in calls if nm not in allowed_set]
    rubric.append(_item("tool_names", "calls name declared tools: " + (", ".join(sorted(allowed_set)) or "none"),
                        f"{n - len(bad_names)}/{n} declared" if n else "no calls",
                        (n - len(bad_names)) / n if n else 1.0,
                        ("undeclared: " + ", ".join(bad_names[:5])) if bad_names else "all names declared",
                        ("Call only these tools: " + (", ".join(sorted(allowed_set)) or "none") + ".")
                        if bad_names else ""))

    checkable = [(nm, args) for (_, nm, args, e) in calls if not e and nm in allowed_set]
    schema_errs: list[str] = []
    bad_schema = 0
    for nm, args in checkable:
        errs = schema_errors(args, tools.get(nm) or {})
        if errs:
            bad_schema += 1
            schema_errs.append(f"{nm}: {errs[0]}")
    k = len(checkable)
    rubric.append(_item("tool_schema", "arguments match each tool's parameter schema",
                        f"{k - bad_schema}/{k} valid" if k else "nothing to check",
                        (k - bad_schema) / k if k else 1.0,
                        "; ".join(schema_errs[:3]) or "arguments match the schemas",
                        "Give every required parameter with the declared type, and no others." if schema_errs else ""))

    denom = n + len(orphans)
    res_probs = [f"no result for {u}" for u in unanswered] + [f"result for unknown call {o}" for o in orphans]
    rubric.append(_item("tool_results", "each call answered by one tool message with its tool_call_id",
                        f"{answered}/{n} answered" + (f", {len(orphans)} orphan(s)" if orphans else ""),
                        answered / denom if denom else 1.0, "; ".join(res_probs[:3]) or "every call has its result",
                        "After an assistant message with tool_calls, add one role-tool message per call, "
                        "with tool_call_id equal to the call's id." if res_probs else ""))

    need = lim.min_tool_calls
    rubric.append(_item("tool_use", f"at least {need} tool call(s)" if need else "tool calls optional",
                        f"{n} call(s)", min(1.0, n / need) if need else 1.0,
                        "uses the tools" if n >= need else "this category's examples must show tool use",
                        "" if n >= need else "Show the assistant calling the declared tools and using their results."))

    turns = sum(1 for m in msgs if m["role"] != "system")
    len_errs = []
    if turns < lim.min_turns:
        len_errs.append(f"{turns} turns < {lim.min_turns}")
    if turns > lim.max_turns:
        len_errs.append(f"{turns} turns > {lim.max_turns}")
    if total_chars > lim.max_chars:
        len_errs.append(f"{total_chars} chars > {lim.max_chars}")
    rubric.append(_item("length", f"{lim.min_turns}-{lim.max_turns} turns, at most {lim.max_chars} chars",
                        f"{turns} turns, {total_chars} chars", 0.0 if len_errs else 1.0,
                        "; ".join(len_errs) or "within bounds",
                        (f"Keep the conversation between {lim.min_turns} and {lim.max_turns} messages and under "
                         f"{lim.max_chars} characters.") if len_errs else ""))

    score = sum(r["score"] for r in rubric) / len(rubric)
    passed = all(r["passed"] for r in rubric)
    return AgenticResult(score=round(score, 4), passed=passed, rubric=rubric, messages=msgs,
                         response=final, tool_calls=n,
                         errors=order_errs + bad_args + bad_names + schema_errs + res_probs + len_errs)


# -- the LLM judge -----------------------------------------------------------------------------
JUDGE_SYSTEM = (
    "You grade synthetic training conversations for a coding assistant that uses tools. "
    "Judge realism, correctness of the reasoning and tool use, and how well the example teaches the "
    "category's behaviour. Reply with only a JSON object: {\"score\": <number 0 to 1>, \"reasons\": \"<one or two sentences>\"}."
)


def judge_prompt(category: str, instructions: str, messages: list[dict[str, Any]]) -> str:
    convo = json.dumps({"messages": messages}, ensure_ascii=False, indent=1)
    return (f"Category: {category}\nWhat examples of this category must show:\n{instructions}\n\n"
            f"The example:\n{convo}\n\nGrade it 0 to 1 as JSON.")


_SCORE_RE = re.compile(r'"score"\s*:\s*([0-9]*\.?[0-9]+)')


def parse_judge(text: str) -> tuple[float | None, str]:
    """(score clamped to 0..1, reasons) from the judge's reply; (None, why) when it gave no score."""
    body = strip_fences(text)
    data: Any = None
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        start = body.find("{")
        if start >= 0:
            try:
                data, _ = json.JSONDecoder().raw_decode(body[start:])
            except json.JSONDecodeError:
                data = None
    if isinstance(data, dict) and isinstance(data.get("score"), int | float) and not isinstance(data["score"], bool):
        return max(0.0, min(1.0, float(data["score"]))), str(data.get("reasons") or "")
    m = _SCORE_RE.search(body)  # a reply that is almost JSON still carries a usable score
    if m:
        return max(0.0, min(1.0, float(m.group(1)))), ""
    return None, f"judge reply has no score: {body[:120]!r}"


def blend_judge(rubric: list[dict[str, Any]], judge_score: float | None, reasons: str, weight: float,
                min_score: float) -> tuple[float, bool, list[dict[str, Any]]]:
    """Structure mean and judge score blended as (1-w)*structure + w*judge. Rubric weights are set so
    the weighted mean of the rubric equals that score. A missing judge score counts as 0."""
    n = len(rubric)
    structure = sum(r["score"] for r in rubric) / n if n else 0.0
    structural_ok = all(r["passed"] for r in rubric)
    js = judge_score if judge_score is not None else 0.0
    score = (1 - weight) * structure + weight * js
    out = [{**r, "weight": round((1 - weight) / n, 6) if n else 0.0} for r in rubric]
    out.append(_item("judge", f"quality >= {min_score:.2f}",
                     f"{js:.2f}" if judge_score is not None else "no score",
                     js, reasons or ("the judge gave no usable score" if judge_score is None else "judged"),
                     "" if js >= min_score else
                     ("Make the example more realistic and instructive: " + reasons if reasons else
                      "Make the example more realistic and instructive."), weight=weight))
    out[-1]["passed"] = judge_score is not None and js >= min_score
    return round(score, 4), structural_ok and score >= min_score, out
