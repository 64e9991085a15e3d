"""Run configuration: pydantic models loaded from TOML, CLI overrides, errors that name the field.

A config describes one data job (poetry, agentic or aba), the backends it may call and how the
run is supervised. API keys are never stored here: a backend names the environment variable
(`api_key_env`) and the key is read from the environment, or from `.env` in the working
directory, at the moment a worker needs it.
"""

from __future__ import annotations

import copy
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from watcher.errors import ConfigError, MissingKeyError

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DATA = PACKAGE_DIR / "data"
# The default configs ship inside the package, so an installed watcher runs from any folder;
# `watcher init` copies them out for editing.
PACKAGED_CONFIGS = PACKAGE_DIR / "configs"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackendConfig(_Strict):
    kind: Literal["anthropic", "openai"]
    model: str
    base_url: str | None = None
    api_key_env: str = ""
    max_tokens: int = Field(2048, gt=0)
    temperature: float = Field(1.0, ge=0, le=2)
    timeout_s: float = Field(60.0, gt=0, description="longest a call may take, read included")
    connect_timeout_s: float = Field(10.0, gt=0, description="longest a connection may take to open")
    item_deadline_s: float = Field(0.0, ge=0, description="longest an item's tries may take in all; "
                                   "0 = 3 x max_attempts x timeout_s, at least 60 (time the backend is down is not counted)")
    give_up_after_s: float = Field(900.0, gt=0, description="how long the backend may stay unreachable "
                                   "(connect/timeout/server failures) before the run gives up on it")
    breaker_threshold: int = Field(3, ge=1, description="consecutive failed calls that mark the backend "
                                   "down (auth, not_found, bad_response) or start probing (transient)")
    concurrency: int = Field(8, ge=1, le=1024)
    rpm: int = Field(0, ge=0, description="requests per minute for this backend, 0 = unlimited")
    tpm: int = Field(0, ge=0, description="tokens per minute for this backend, 0 = unlimited")
    price_in: float = Field(0.0, ge=0, description="USD per million input tokens")
    price_out: float = Field(0.0, ge=0, description="USD per million output tokens")
    price_cache_read: float | None = Field(None, ge=0, description="cache reads as a multiple of price_in; "
                                           "default 0.1 (anthropic), 0.5 (openai)")
    price_cache_write: float = Field(1.25, ge=0, description="cache writes as a multiple of price_in "
                                     "(Anthropic 5-minute cache: 1.25)")
    workers: int = Field(1, ge=1, le=64, description="worker processes for this backend")
    thinking_budget: int = Field(0, ge=0, description="anthropic extended thinking budget, 0 = off")
    reasoning_effort: str | None = None
    max_retries: int = Field(6, ge=0, description="transport retries per call")
    simulated: bool = Field(False, description="talks to watcher's simulated provider")
    extra_headers: dict[str, str] = Field(default_factory=dict)
    # Batch mode (generate/batch_loop.py): the provider's batch API instead of one call at a time.
    batch: bool = Field(False, description="send this backend's items through its batch API (`--batch`)")
    batch_api: Literal["auto", "anthropic", "openai", "openrouter"] = Field(
        "auto", description="auto: anthropic for kind anthropic, openrouter for an openrouter.ai base_url, else openai")
    batch_retries: Literal["batch", "online"] = Field("batch", description="online: first attempts in "
                                                      "batches, feedback retries and resubmissions as online calls")
    batch_price_share: float = Field(0.5, ge=0, le=1, description="batch price as a share of the online price")
    batch_max_requests: int = Field(0, ge=0, description="requests per batch at most; 0 = the provider's limit")
    batch_poll_s: float = Field(30.0, gt=0, description="seconds between polls of a batch in flight")

    @model_validator(mode="after")
    def _key_env(self) -> BackendConfig:
        if not self.api_key_env:
            self.api_key_env = "ANTHROPIC_API_KEY" if self.kind == "anthropic" else "OPENAI_API_KEY"
        if self.batch_api != "auto" and (self.batch_api == "anthropic") != (self.kind == "anthropic"):
            raise ValueError(f"batch_api = '{self.batch_api}' does not speak kind = '{self.kind}'; use auto, "
                             + ("anthropic" if self.kind == "anthropic" else "openai or openrouter"))
        return self

    @property
    def label(self) -> str:
        return "sim" if self.simulated else self.kind

    @property
    def cache_read_mult(self) -> float:
        if self.price_cache_read is not None:
            return self.price_cache_read
        return 0.1 if self.kind == "anthropic" else 0.5


class JudgeConfig(_Strict):
    backend: str = Field(description="name of a [backends.*] table that scores examples 0-1")
    weight: float = Field(0.5, ge=0, le=1)


class PoetryJob(_Strict):
    forms: list[str] = Field(default_factory=list, description="form names; empty = the top-10 learnable set")
    num: int = Field(100, ge=1, description="poems per form")
    topics_file: str | None = None
    tones_file: str | None = None
    judge: JudgeConfig | None = Field(None, description="an LLM that grades topic and tone 0-1, blended by weight")

    @field_validator("forms", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [f.strip() for f in v.split(",") if f.strip()]
        return v


class Category(_Strict):
    name: str
    target: int = Field(ge=1)
    instructions: str
    tools: list[str] = Field(default_factory=list, description="names of declared tools this category may call")
    min_tool_calls: int | None = Field(None, ge=0, description="tool calls an example needs; default 1 if tools else 0")


class ToolSchema(_Strict):
    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict, description="JSON schema of the arguments")


class AgenticJob(_Strict):
    categories: list[Category]
    tools: list[ToolSchema] = Field(default_factory=list)
    min_turns: int = 2
    max_turns: int = 24
    max_chars: int = 24000
    judge: JudgeConfig | None = None


class Variant(_Strict):
    name: str
    system_prompt: str


class AbaJob(_Strict):
    prompts_file: str = "prompts/aba_example.jsonl"
    variants: list[Variant]
    max_output_tokens: int = 4096
    token_budget: int = 2000
    max_prompts: int = Field(0, ge=0, description="use only the first N prompts of the list, 0 = all")


class DiversityConfig(_Strict):
    """`[gate.diversity]`: the diversity report (off by default: it builds the job's plan for the
    topic x tone coverage) and its thresholds (each off at its default)."""
    enabled: bool = False
    sample: int = Field(1000, ge=10, description="kept records per group and per model the text figures use")
    top: int = Field(5, ge=1, le=50, description="most repeated first lines and openings listed")
    min_distinct_1: float = Field(0.0, ge=0, le=1, description="fail below this distinct-1 ratio in any group")
    min_distinct_2: float = Field(0.0, ge=0, le=1, description="fail below this distinct-2 ratio in any group")
    max_first_line_share: float = Field(1.0, ge=0, le=1, description="fail when one first line is more of a group")
    min_coverage: float = Field(0.0, ge=0, le=1, description="fail below this share of planned topic x tone pairs")


class GateConfig(_Strict):
    require_finish_stop: bool = True
    require_nonempty: bool = True
    require_min_score: bool = True
    require_traces: bool = True
    max_output_tokens: int = Field(0, ge=0, description="0 = the job's token budget or no limit")
    exact_duplicates: bool = True
    near_duplicates: bool = True
    near_duplicate_threshold: float = Field(0.85, gt=0, le=1)
    balance: bool = True
    balance_tolerance: float = Field(0.2, ge=0, le=1, description="allowed shortfall per group vs target")
    trace_style: Literal["synth", "natural", "both"] = "synth"
    split_turns: bool = Field(False, description="agentic export: one example per assistant turn, each ending "
                              "on it (with mask_prompt, every turn is trained); false: one per conversation")
    valid_share: float = Field(0.1, ge=0, lt=1)
    test_share: float = Field(0.1, ge=0, lt=1)
    duplicate_ids: bool = Field(True, description="drop later records that repeat an earlier record's id")
    near_duplicate_permutations: int = Field(64, ge=16, le=256, description="MinHash signature length")
    min_pass_share: float = Field(0.5, ge=0, le=1, description="gate fails when fewer records survive")
    max_corrupt_share: float = Field(0.01, ge=0, le=1,
                                     description="gate fails when more lines are invalid JSON or off-schema")
    diversity: DiversityConfig = Field(default_factory=DiversityConfig)

    @model_validator(mode="after")
    def _splits(self) -> GateConfig:
        if self.valid_share + self.test_share >= 1:
            raise ValueError("valid_share + test_share must be below 1 (the rest is the training split); lower one of them")
        return self


def job_judge(cfg: RunConfig) -> JudgeConfig | None:
    """The judge of the run's job ([poetry.judge] or [agentic.judge]), if it has one."""
    sub = cfg.poetry if cfg.job == "poetry" else cfg.agentic if cfg.job == "agentic" else None
    return getattr(sub, "judge", None)


class NotifyConfig(_Strict):
    """Where a run says it needs attention (monitor/notify.py): a webhook and/or a local command."""

    webhook_url: str = Field("", description="POST a small JSON {run, event, counts, cost_usd, message}")
    command: str = Field("", description="shell command run with WATCHER_EVENT, WATCHER_MESSAGE... set")
    min_interval_s: float = Field(300.0, ge=0, description="at most one message per event kind this often")
    timeout_s: float = Field(5.0, gt=0)


class RunConfig(_Strict):
    job: Literal["poetry", "agentic", "aba"] = "poetry"
    name: str = Field("", description="run name prefix; default: the job name")
    output: str = "dataset.jsonl"
    runs_dir: str = "data/runs"
    min_score: float = Field(0.8, ge=0, le=1)
    max_attempts: int = Field(4, ge=1, le=50, description="backend calls per item before it is rejected")
    resume_retries: int = Field(1, ge=0, description="how many times a resume retries a rejected item")
    model_mix: float = Field(0.5, ge=0, le=1, description="share of items for the first backend in `backends_order`")
    backend: Literal["mixed"] | str = Field("mixed", description="mixed, or the name of one backend to use alone")
    backends_order: list[str] = Field(default_factory=list, description="default: the order of [backends.*]")
    request_thinking: bool = Field(True, description="ask for a <think> section when the backend has no native reasoning")
    heartbeat_s: float = Field(1.0, gt=0)
    restart_limit: int = Field(5, ge=0, description="restarts in a row before a worker is marked failed")
    stop_grace_s: float = Field(10.0, ge=0, description="on stop, how long in-flight calls may finish "
                                "before they are cancelled (their items stay pending)")
    seed: int = 0
    max_cost_usd: float = Field(0.0, ge=0, description="spend ceiling in USD; workers take no new item "
                                "once the run's recorded cost reaches it; 0 = none")
    backends: dict[str, BackendConfig]
    poetry: PoetryJob = Field(default_factory=PoetryJob)
    agentic: AgenticJob | None = None
    aba: AbaJob | None = None
    gate: GateConfig = Field(default_factory=GateConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)

    @model_validator(mode="after")
    def _check(self) -> RunConfig:
        if not self.backends:
            raise ValueError("at least one [backends.NAME] table is needed; add one (`watcher init` writes examples)")
        order = self.backends_order or list(self.backends)
        for b in order:
            if b not in self.backends:
                raise ValueError(f"backends_order names '{b}' but there is no [backends.{b}] table; name only configured backends")
        self.backends_order = order
        if self.backend != "mixed" and self.backend not in self.backends:
            raise ValueError(
                f"backend = '{self.backend}' is not a configured backend; use mixed or one of: "
                + ", ".join(self.backends)
            )
        if self.job == "agentic" and self.agentic is None:
            raise ValueError("job = 'agentic' needs an [agentic] table with categories; add one (see the packaged agentic config)")
        if self.job == "aba" and self.aba is None:
            raise ValueError("job = 'aba' needs an [aba] table with variants; add one (see the packaged aba config)")
        return self

    @property
    def run_prefix(self) -> str:
        return self.name or self.job

    def active_backends(self) -> list[str]:
        """Backends that receive items, in mix order."""
        if self.backend != "mixed":
            return [self.backend]
        order = self.backends_order
        if len(order) >= 2:
            if self.model_mix >= 1.0:
                return [order[0]]
            if self.model_mix <= 0.0:
                return order[1:2]
            return order[:2]
        return order

    def backend_shares(self) -> dict[str, float]:
        active = self.active_backends()
        if len(active) == 1:
            return {active[0]: 1.0}
        return {active[0]: self.model_mix, active[1]: 1.0 - self.model_mix}


def _fix_hint(loc: tuple[Any, ...], msg: str, err_type: str) -> str:
    if err_type == "extra_forbidden":
        return "remove it or check its spelling"
    if err_type == "missing":
        return "add it"
    if "literal" in err_type or err_type == "enum":
        return msg.replace("Input should be", "use")
    if msg.startswith("Input should be"):
        return msg.replace("Input should be", "use a value that is", 1)
    return msg


def format_validation_error(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        msg = e["msg"]
        if msg.startswith("Value error, "):
            # Our validators write "what is wrong; what to do": the second half is the fix.
            what, _, fix = msg.removeprefix("Value error, ").partition("; ")
        else:
            what, fix = msg, _fix_hint(e["loc"], msg, e["type"])
        if not e["loc"]:  # a check across fields names them itself
            lines.append(f"{source}: {what}" + (f"; fix: {fix}" if fix else ""))
            continue
        field = ".".join(str(p) for p in e["loc"])
        got = e.get("input")
        got_s = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
        lines.append(f"{source}: field '{field}'{got_s}: {what}" + (f"; fix: {fix}" if fix else ""))
    return "\n".join(lines)


def config_name(ref: str | os.PathLike[str]) -> str | None:
    """"agentic", "agentic.toml" and "configs/agentic.toml" all name the config "agentic"; a path
    anywhere else (or with another suffix) names no config."""
    p = Path(ref)
    if p.parent not in (Path("."), Path("configs")) or p.suffix not in ("", ".toml"):
        return None
    return p.stem if p.suffix else p.name


def resolve_config_path(path: str | os.PathLike[str] | None, default_name: str = "poetry") -> Path:
    """A given path that exists, else ./configs/NAME.toml (the user's edited copy, from `watcher
    init` or a checkout), else the packaged default of that name."""
    name = default_name
    if path:
        p = Path(path)
        if p.is_dir():
            raise ConfigError(f"config {path} is a directory; fix: pass --config with a path to a TOML file")
        if p.is_file():
            return p
        name = config_name(p) or ""
        if not name:
            raise ConfigError(f"config file {path} does not exist; fix: pass --config with a path to a TOML "
                              f"file, or a config name ({', '.join(packaged_config_names())})")
    for base in (Path.cwd() / "configs", PACKAGED_CONFIGS):
        cand = base / f"{name}.toml"
        if cand.is_file():
            return cand
    raise ConfigError(f"no config named {name!r} (looked for ./configs/{name}.toml and the packaged "
                      f"defaults: {', '.join(packaged_config_names())}); fix: pass --config FILE")


def packaged_config_names() -> list[str]:
    return sorted(p.stem for p in PACKAGED_CONFIGS.glob("*.toml"))


def parse_config(data: dict[str, Any], source: str = "config") -> RunConfig:
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, source)) from None


def toml_error_message(path: str | os.PathLike[str], exc: ValueError) -> str:
    """The one wording of a config file's syntax error: the file, its format, the parser's message
    (with the line) and the fix. JSON for a JSONDecodeError (the train config may be JSON)."""
    kind = "JSON" if isinstance(exc, json.JSONDecodeError) else "TOML"
    return f"{path}: not valid {kind}: {exc}; fix: correct the syntax at that line"


def read_config_text(p: Path) -> str:
    """A config file's text; a binary or unreadable file is a ConfigError, not a traceback."""
    try:
        return p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config {p} is not a text file (not UTF-8); fix: pass --config with a TOML file") from None
    except OSError as e:
        raise ConfigError(f"config {p} cannot be read ({e.strerror}); fix: pass --config with a readable TOML file") from None


def load_config(path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None,
                default_name: str = "poetry") -> tuple[RunConfig, Path]:
    p = resolve_config_path(path, default_name)
    try:
        data = tomllib.loads(read_config_text(p))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(toml_error_message(p, e)) from None
    if overrides:
        data = apply_overrides(data, overrides)
    return parse_config(data, str(p)), p


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys (`poetry.num`, `backends.openrouter.model`) set values inside a raw config dict."""
    data = copy.deepcopy(data)
    for key, value in overrides.items():
        if value is None:
            continue
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return data


def config_to_dict(cfg: RunConfig) -> dict[str, Any]:
    return cfg.model_dump(mode="json", exclude_none=True)


def dump_config(cfg: RunConfig) -> str:
    import tomli_w

    return tomli_w.dumps(config_to_dict(cfg))


def read_dotenv(path: Path | None = None) -> dict[str, str]:
    """KEY=VALUE lines of ./.env (python-dotenv's parser); never written back, never put in os.environ."""
    # An explicit path: without one python-dotenv searches upwards from the caller's source file.
    values = dotenv_values(path or Path.cwd() / ".env")
    return {k: v for k, v in values.items() if v is not None}


def get_api_key(backend_name: str, backend: BackendConfig) -> str:
    """The backend's key from the environment or .env; a clear error naming the variable otherwise."""
    var = backend.api_key_env
    key = os.environ.get(var) or read_dotenv().get(var)
    if not key:
        raise MissingKeyError(
            f"backend '{backend_name}' needs an API key: set the environment variable {var} "
            f"(or put {var}=... in ./.env); use `watcher demo` to run without a key"
        )
    return key


def bundled_file(rel: str) -> Path:
    """A bundled input under data/ (topics, tones, prompt lists); a path that exists is used as is."""
    p = Path(rel)
    if p.exists():
        return p
    for base in (Path.cwd() / "data", BUNDLED_DATA):
        if (base / rel).exists():
            return base / rel
    raise ConfigError(f"data file {rel} not found; fix: give an existing path or a file under data/")


# Seed-000 flags as dotted overrides of the config.
def seed_flag_overrides(forms: str | None = None, num: int | None = None, min_score: float | None = None,
                        model_mix: float | None = None, openrouter_model: str | None = None,
                        output: str | None = None, backend: str | None = None) -> dict[str, Any]:
    return {
        "poetry.forms": forms,
        "poetry.num": num,
        "min_score": min_score,
        "model_mix": model_mix,
        "backends.openrouter.model": openrouter_model,
        "output": output,
        "backend": backend,
    }
