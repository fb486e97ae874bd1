"""Structured logs (structlog): JSON when not on a terminal, a request id, and no secrets."""

from __future__ import annotations

import logging
import logging.config
import re
from collections.abc import Mapping
from typing import Any

import structlog

REDACTED = "[redacted]"

# Keys whose values are never written to a log, wherever they appear in an event.
_SECRET_KEY_RE = re.compile(
    r"pass(?:word|wd|phrase)?|secret|token|authori[sz]ation|auth|cookie|signature|jwt|dsn"
    r"|api[_-]?key|private[_-]?key|signing[_-]?key|encryption[_-]?key|credential|sessionid",
    re.IGNORECASE,
)
# Values that look like secrets even under an innocent key, or inside a longer text.
_SECRET_VALUE_RES = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[a-z0-9._~+/=-]+"), REDACTED),
    (re.compile(r"\beyJ[a-zA-Z0-9_-]{8,}\.[a-zA-Z0-9_-]+\.[a-zA-Z0-9_-]*"), REDACTED),  # JWTs
    # The password of a URL: scheme://user:password@host.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/?#@\s]*):[^@\s]+@"), r"\1:[redacted]@"),
    # name=value, name: value, "name": "value" and ?name=value where the name sounds secret.
    (
        re.compile(
            r"""(?i)(["']?[a-z0-9_.-]*(?:pass(?:word|wd)?|secret|token|authori[sz]ation|cookie"""
            r"""|signature|api[_-]?key|sessionid|jwt)[a-z0-9_.-]*["']?\s*[:=]\s*)"""
            r"""("[^"]*"|'[^']*'|[^\s,;&}'"]+)"""
        ),
        r"\1[redacted]",
    ),
    # "signature AbC...", "token is 9f2...": a token-like word (long, with a digit) after the name.
    (
        re.compile(
            r"(?i)\b((?:pass(?:word|wd)?|secret|token|signature|api[_-]?key)s?\s+(?:is\s+|was\s+)?)"
            r"(?=[a-z0-9+/=_.~-]*\d)[a-z0-9+/=_.~-]{16,}"
        ),
        r"\1[redacted]",
    ),
]
# Keys structlog and logging use for themselves; their values are not ours to rewrite.
_INTERNAL_KEYS = {"_record", "_from_structlog", "exc_info", "stack_info"}
_MAX_DEPTH = 6


def _is_secret_name(name: Any) -> bool:
    if isinstance(name, bytes):
        name = name.decode("latin-1")
    return isinstance(name, str) and bool(_SECRET_KEY_RE.search(name))


def redact_text(text: str) -> str:
    for pattern, replacement in _SECRET_VALUE_RES:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any, depth: int = 0) -> Any:
    """Return ``value`` with every secret in it, however nested, replaced by ``[redacted]``."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes):
        return redact_text(value.decode("latin-1"))
    if depth < _MAX_DEPTH and isinstance(value, Mapping):
        return {
            k: (REDACTED if _is_secret_name(k) else redact_value(v, depth + 1))
            for k, v in value.items()
        }
    if depth < _MAX_DEPTH and isinstance(value, list | tuple | set | frozenset):
        # A (name, value) pair, as in ASGI headers: [(b"authorization", b"Bearer ...")].
        if isinstance(value, tuple) and len(value) == 2 and _is_secret_name(value[0]):
            return (redact_value(value[0], depth + 1), REDACTED)
        items = [redact_value(v, depth + 1) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    # Anything else is rendered as its repr, which may hold secrets (a request's query string,
    # a headers object): redact that text rather than the object.
    return redact_text(repr(value))


def redact_secrets(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in list(event_dict):
        if key in _INTERNAL_KEYS:
            continue
        if key != "event" and _is_secret_name(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = redact_value(event_dict[key])
    return event_dict


def add_request_id(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Take the request id from a record's ``request`` (Django logs 4xx and 5xx answers with it).

    Django writes those lines after the middleware has returned, when the id is no longer bound.
    """
    request_id = getattr(event_dict.get("request"), "request_id", None)
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


class ClientErrorsWithoutTraceback(logging.Filter):
    """A 4xx answer is the client's mistake, not the hub's: Django's ``django.request`` logs
    one (a 403 from ``PermissionDenied``) with the exception's traceback; keep the one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True


def configure_logging(*, level: str, fmt: str) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        add_request_id,
        redact_secrets,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        # filter_by_level first: a line below LOG_LEVEL (every request's "request" line at
        # WARNING) is dropped before the time stamp and redaction are spent on it.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structlog": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.format_exc_info,
                        # Again, now that tracebacks are text: an exception's message may hold one.
                        redact_secrets,
                        renderer,
                    ],
                    "foreign_pre_chain": shared,
                }
            },
            "filters": {"client_errors": {"()": ClientErrorsWithoutTraceback}},
            "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "structlog"}},
            "root": {"handlers": ["default"], "level": level},
            "loggers": {
                "django.request": {"filters": ["client_errors"]},
                "django.db.backends": {"level": "INFO"},
                "daphne": {"level": "WARNING" if level == "INFO" else level},
                # A line per job run otherwise; the hub's scheduler logs what matters itself.
                "apscheduler": {"level": "WARNING" if level == "INFO" else level},
            },
        }
    )
