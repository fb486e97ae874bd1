"""The wire protocol's constants: close codes and error codes (docs/PROTOCOL.md)."""

from __future__ import annotations

import json

# Close codes.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_BIG = 1009
CLOSE_SERVICE_RESTART = 1012
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_HEARTBEAT_TIMEOUT = 4408
CLOSE_SLOW_CONSUMER = 4409
CLOSE_RATE_LIMITED = 4429

# Error codes of "error" frames (the connection stays open).
ERR_INVALID_JSON = "invalid_json"
ERR_INVALID_FRAME = "invalid_frame"
ERR_UNKNOWN_TYPE = "unknown_type"
ERR_AUTH_REQUIRED = "auth_required"
ERR_ALREADY_AUTHENTICATED = "already_authenticated"
ERR_NOT_FOUND = "not_found"
ERR_FRAME_TOO_LARGE = "frame_too_large"
ERR_BAD_TOKEN = "bad_token"  # noqa: S105 - an error code, not a secret
ERR_INACTIVE_USER = "inactive_user"


def encode(frame: dict) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False, default=str)


def event_frame_text(event: dict) -> str:
    """Encode an event once; the same text goes to every connection that may see it."""
    return encode(
        {
            "type": "event",
            "id": event["id"],
            "topic": event["topic"],
            "event": event["type"],
            "data": event["payload"],
        }
    )
