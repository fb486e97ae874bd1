"""The wire protocol's constants: close codes and error codes (docs/PROTOCOL.md)."""

from __future__ import annotations

import json

# Close codes.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013
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
ERR_UNAVAILABLE = "unavailable"
ERR_FORBIDDEN = "forbidden"  # an action this user may not take (e.g. ops.subscribe)

# Reasons of "reset" frames (the client refetches its state and continues from latest_event_id).
RESET_BEYOND_REPLAY_WINDOW = "beyond_replay_window"
RESET_TOO_MANY_EVENTS = "too_many_events"
RESET_AHEAD_OF_SERVER = "ahead_of_server"

# Events read from the log per query while replaying, each page sent before the next is read.
REPLAY_PAGE_SIZE = 500


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
            "company_id": event["company_id"],
            "data": event["payload"],
        }
    )
