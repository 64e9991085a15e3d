"""Tool-call arguments are validated with the jsonschema library: keywords the old home-made
validator ignored (anyOf, oneOf, minimum, pattern, $ref) are now enforced, and each message names
the argument and the failure."""

from __future__ import annotations

import json

from watcher.verify.agentic import schema_errors, verify_example

SCHEMA = {
    "type": "object",
    "$defs": {"path": {"type": "string", "pattern": "^/"}},
    "properties": {
        "path": {"$ref": "#/$defs/path"},
        "count": {"type": "integer", "minimum": 1},
        "mode": {"anyOf": [{"enum": ["r", "w"]}, {"type": "integer"}]},
        "target": {"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]},
    },
    "required": ["path"],
}


def test_valid_arguments_pass() -> None:
    assert schema_errors({"path": "/src/a.rs", "count": 2, "mode": "r", "target": "long name"}, SCHEMA) == []
    assert schema_errors({"path": "/x", "mode": 7}, SCHEMA) == []


def test_minimum_is_enforced() -> None:
    errs = schema_errors({"path": "/x", "count": 0}, SCHEMA)
    assert len(errs) == 1 and errs[0].startswith("count: ") and "minimum" in errs[0]


def test_pattern_through_ref_is_enforced() -> None:
    errs = schema_errors({"path": "relative/x"}, SCHEMA)
    assert len(errs) == 1 and errs[0].startswith("path: ") and "'^/'" in errs[0]
    assert schema_errors({"path": 5}, SCHEMA) == ["path should be string, got int"]


def test_any_of_is_enforced() -> None:
    errs = schema_errors({"path": "/x", "mode": "append"}, SCHEMA)
    assert len(errs) == 1 and errs[0].startswith("mode: ") and "any of" in errs[0]


def test_one_of_is_enforced() -> None:
    # "abc" matches both branches: oneOf wants exactly one.
    errs = schema_errors({"path": "/x", "target": "abc"}, SCHEMA)
    assert len(errs) == 1 and errs[0].startswith("target: ")
    assert schema_errors({"path": "/x", "target": 3}, SCHEMA)[0].startswith("target: ")


def test_invalid_schema_is_one_problem_not_a_crash() -> None:
    assert schema_errors({"a": 1}, {"type": "no-such-type"})[0].startswith("the parameter schema is invalid")


def test_rubric_names_the_tool_argument_and_failure() -> None:
    tools = {"read_file": SCHEMA}
    msgs = [{"role": "user", "content": "read it"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "c1", "type": "function",
                 "function": {"name": "read_file", "arguments": json.dumps({"path": "/a", "count": -3})}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "..."},
            {"role": "assistant", "content": "done"}]
    res = verify_example(json.dumps({"messages": msgs}), tools)
    item = next(r for r in res.rubric if r["criterion"] == "tool_schema")
    assert not item["passed"] and item["score"] == 0.0
    assert item["explanation"].startswith("read_file: count: -3 is less than the minimum of 1")
