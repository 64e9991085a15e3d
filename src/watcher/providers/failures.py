"""Every way a backend call can fail, as one ProviderError with a class a user can act on.

The classes (DESIGN.md "Outcomes"): connect, timeout, server, rate_limit (transient: the same call
may work later) and auth, not_found, bad_request, bad_response (deterministic: retrying the call is
no use). The message is one line: class, status, the URL (scheme, host, port, path: never a query or
credentials) and at most BODY_CHARS of the body, HTML reduced to its text, secrets redacted.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any, TypeVar
from urllib.parse import urlsplit

from watcher.providers.base import ProviderError, _fmt_s, redact
from watcher.providers.quota_headers import parse_quota
from watcher.run.records import (
    FAIL_AUTH,
    FAIL_BAD_REQUEST,
    FAIL_BAD_RESPONSE,
    FAIL_CONNECTION,
    FAIL_NOT_FOUND,
    FAIL_OTHER,
    FAIL_RATE_LIMITED,
    FAIL_SERVER,
    FAIL_TIMEOUT,
)

BODY_CHARS = 200
DETERMINISTIC = frozenset({FAIL_AUTH, FAIL_NOT_FOUND, FAIL_BAD_REQUEST, FAIL_BAD_RESPONSE})
# A proxy (LiteLLM and others) that refuses the key often answers 400 and says so in the body.
_KEY_REFUSED = re.compile(r"api[ _-]?key|invalid key|unauthori[sz]ed|authenticat|no connected db|"
                          r"virtual key|permission denied", re.I)
# ... and one that does not know the model answers 400 where a server would say 404 (LiteLLM:
# "Invalid model name passed in model=x", OpenRouter: "x is not a valid model ID").
_MODEL_UNKNOWN = re.compile(r"invalid model name|not a valid model|model[_ ]not[_ ]found", re.I)


def safe_url(url: Any) -> str:
    """scheme://host:port/path of a URL: no user:password, no query (keys travel there), no fragment."""
    if not url:
        return ""
    try:
        u = urlsplit(str(url))
        host = u.hostname or ""
        port = f":{u.port}" if u.port else ""
    except ValueError:
        return ""
    return f"{u.scheme}://{host}{port}{u.path}" if u.scheme else ""


class _Text(HTMLParser):
    # The stdlib parser is enough to drop tags, scripts and styles from an error page.
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def looks_html(text: str) -> bool:
    head = text.lstrip()[:200].lower()
    return head.startswith(("<!doctype html", "<html", "<head", "<body")) or "<html" in head


def body_text(body: Any, secret: str = "", limit: int = BODY_CHARS) -> str:
    """At most `limit` characters of a response body on one line: an error's message from JSON,
    the visible text of HTML, else the raw text."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        text = body
        if looks_html(text):
            p = _Text()
            try:
                p.feed(text)
                parts = [t for t in (x.strip() for x in p.parts) if t]
                # An error page's <title> is usually its <h1> again ("502 Bad Gateway" twice): say it once.
                text = " ".join(t for i, t in enumerate(parts) if i == 0 or t != parts[i - 1])
            except Exception:  # a broken page still gets cut to size below
                pass
        else:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                text = _body_message(parsed) or text
    else:
        text = _body_message(body)
    text = " ".join(redact(text, secret).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _body_message(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error", body.get("detail", body))
        if isinstance(err, dict):
            return str(err.get("message") or err.get("type") or json.dumps(err)[:BODY_CHARS])
        return str(err)
    return "" if body is None else str(body)


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date); None when absent."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms:
            return max(0.0, float(ms) / 1000)
        ra = headers.get("retry-after")
    except Exception:
        return None
    if not ra:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(ra).timestamp() - time.time())
    except Exception:
        return None


def _line(kind: str, status: int | None, url: str, detail: str) -> str:
    head = kind + (f" {status}" if status else "") + (f" {url}" if url else "")
    return f"{head}: {detail}" if detail else head


def error_from_status(status: int, headers: Any, body: Any, secret: str = "", url: Any = "") -> ProviderError:
    """Classify an HTTP error response; the body's message is kept short and redacted."""
    retry_after = parse_retry_after(headers)
    msg = body_text(body, secret)
    if status == 429:
        kind = FAIL_RATE_LIMITED
    elif status in (401, 403):
        kind = FAIL_AUTH
    elif status in (404, 501):
        # 501: the server does not implement POST there (a plain web server on that port, not an LLM
        # API); like a wrong path, no retry can help.
        kind = FAIL_NOT_FOUND
    elif status in (408, 409):
        kind = FAIL_TIMEOUT if status == 408 else FAIL_SERVER  # conflicts are transient (the SDKs retry them)
    elif status >= 500:
        kind = FAIL_SERVER
    elif status == 400 and _KEY_REFUSED.search(msg):
        kind = FAIL_AUTH
    elif status == 400 and _MODEL_UNKNOWN.search(msg):
        kind = FAIL_NOT_FOUND
    elif 400 <= status < 500:
        kind = FAIL_BAD_REQUEST
    else:
        kind = FAIL_BAD_RESPONSE
    extra = "overloaded" if status == 529 else ""
    if retry_after is not None:
        extra = f"Retry-After {_fmt_s(retry_after)}" + (f"; {extra}" if extra else "")
    detail = "; ".join(x for x in (extra, msg) if x)
    return ProviderError(_line(kind, status, safe_url(url), detail), kind=kind, status=status,
                         retry_after=retry_after, url=safe_url(url), quota=parse_quota(headers))


def bad_response(url: Any, why: str, body: Any = None, secret: str = "", status: int | None = 200) -> ProviderError:
    """A 200 that is not the protocol: not JSON, cut JSON, an HTML page, no choices or content."""
    shown = body_text(body, secret) if body not in (None, "", b"") else ""
    detail = why + (f": {shown}" if shown else "")
    return ProviderError(_line(FAIL_BAD_RESPONSE, status, safe_url(url), detail), kind=FAIL_BAD_RESPONSE,
                         status=status, url=safe_url(url))


def _httpx_class(exc: BaseException) -> str | None:
    """'timeout' / 'transport' / 'http' for an httpx or httpx2 exception (the SDKs use either)."""
    for cls in type(exc).__mro__:
        if cls.__module__.partition(".")[0] in ("httpx", "httpx2"):
            if cls.__name__ == "TimeoutException":
                return "timeout"
            if cls.__name__ == "TransportError":
                return "transport"
            if cls.__name__ == "HTTPError":
                return "http"
    return None


def transport_error(exc: BaseException, url: Any, timeout_s: float | None = None, secret: str = "") -> ProviderError:
    """A call that got no HTTP answer: refused, reset, DNS, or a timeout."""
    u = safe_url(url)
    if isinstance(exc, TimeoutError) or _httpx_class(exc) == "timeout" or "timed out" in str(exc).lower():
        what = f"no answer within {timeout_s:g}s" if timeout_s else "timed out"
        return ProviderError(_line(FAIL_TIMEOUT, None, u, what), kind=FAIL_TIMEOUT, url=u)
    cause = exc
    while cause.__cause__ is not None and cause.__cause__ is not cause:  # the SDKs wrap the httpx error
        cause = cause.__cause__
    if isinstance(cause, TimeoutError) or _httpx_class(cause) == "timeout":
        return transport_error(cause, url, timeout_s, secret)
    why = body_text(str(cause) or type(cause).__name__, secret, 120)
    return ProviderError(_line(FAIL_CONNECTION, None, u, why), kind=FAIL_CONNECTION, url=u)


def unexpected(exc: BaseException, url: Any, secret: str = "") -> ProviderError | None:
    """The class of an exception no SDK error type covers, or None when it is not the server's doing
    (a bug on our side: the worker crashes with its traceback rather than hide it)."""
    kind = _httpx_class(exc)
    if kind in ("timeout", "transport") or isinstance(exc, (ConnectionError, TimeoutError)):
        return transport_error(exc, url, secret=secret)
    if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
        return bad_response(url, f"body is not JSON ({type(exc).__name__})", secret=secret)
    if kind == "http":
        return ProviderError(_line(FAIL_OTHER, None, safe_url(url), body_text(str(exc), secret)),
                             kind=FAIL_OTHER, retryable=False, url=safe_url(url))
    return None


T = TypeVar("T")


async def sdk_call(sdk: Any, base_error: type[BaseException], url: str, key: str, timeout_s: float,
                   make: Callable[[], Awaitable[T]]) -> T:
    """One SDK call (anthropic or openai: `sdk` is the module, `base_error` its root error) under a
    whole-call timeout, every failure raised as a classified ProviderError naming `url`."""
    try:
        async with asyncio.timeout(timeout_s):
            return await make()
    except sdk.APIStatusError as e:
        raise error_from_status(e.status_code, e.response.headers, e.response.text or e.body, key,
                                e.response.request.url) from None
    except (sdk.APITimeoutError, TimeoutError) as e:
        raise transport_error(e, url, timeout_s, key) from None
    except sdk.APIConnectionError as e:
        raise transport_error(e, url, timeout_s, key) from None
    except base_error as e:
        raise ProviderError(f"{FAIL_OTHER} {url}: {type(e).__name__}: {body_text(str(e), key)}",
                            kind=FAIL_OTHER, retryable=False, url=url) from None
    except Exception as e:
        err = unexpected(e, url, key)
        if err is None:
            raise
        raise err from None
