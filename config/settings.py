"""Settings of the hub, all read from the environment (docs/configuration.md lists each one)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import sys
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

from config.env import (
    EnvError,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
    env_url,
    masked_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("HUB_VAR_DIR", str(BASE_DIR / "var")) or BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)

_DEV_SECRET_KEY = "dev-only-insecure-secret-key-never-use-in-production-0123456789abcdef"  # noqa: S105
SECRET_KEY = env_secret("SECRET_KEY") or (_DEV_SECRET_KEY if DEBUG else None)
if SECRET_KEY is None:
    raise EnvError("SECRET_KEY", "is required when DEBUG is off (set DEBUG=1 for a dev default)")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

HUB_PUBLIC_URL = env_url(
    "HUB_PUBLIC_URL", "http://127.0.0.1:8000" if DEBUG else None, schemes=("http", "https")
)
HUB_PUBLIC_URL = HUB_PUBLIC_URL.rstrip("/") if HUB_PUBLIC_URL else None
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
if HUB_PUBLIC_URL:
    _public = urlsplit(HUB_PUBLIC_URL)
    CSRF_TRUSTED_ORIGINS.append(f"{_public.scheme}://{_public.netloc}")

HUB_JWT_SIGNING_KEY = env_secret("HUB_JWT_SIGNING_KEY") or SECRET_KEY

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_dramatiq",
    "hub.domain.authentication",
    "hub.domain.crm",
    "hub.domain.customers",
    "hub.domain.emails",
    "hub.domain.calls",
    "hub.domain.notifications",
    "hub.domain.issues",
    "hub.domain.events",
    "hub.ops",
    "hub.consumers",
    "hub.console",
    "hub.integrations.twilio",
    "hub.integrations.slack",
    "hub.bots",
    "hub.workers",
]

# The sessionless views (Twilio's webhooks) are answered by SessionlessViewMiddleware without
# a thread hop per middleware below it; WhiteNoise, sync-only, is wrapped to be async-capable.
MIDDLEWARE = [
    "hub.ops.middleware.RequestIdMiddleware",
    "hub.ops.middleware.SessionlessViewMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "hub.ops.middleware.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "hub" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------------------
_DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'hub.sqlite3'}"
DATABASE_URL = env_str("DATABASE_URL", _DEFAULT_DATABASE_URL) or _DEFAULT_DATABASE_URL
_conn_max_age = env_int("DATABASE_CONN_MAX_AGE", 0)
_shown_url = masked_url(DATABASE_URL)  # error messages never show the password
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=_conn_max_age)
except (ValueError, KeyError):
    raise EnvError(
        "DATABASE_URL",
        f"cannot parse {_shown_url!r} (expected postgres://user:password@host:port/name "
        "or sqlite:////absolute/path)",
    ) from None
if not _db.get("ENGINE") or not _db.get("NAME"):
    raise EnvError("DATABASE_URL", f"names no database: {_shown_url!r}")
if _db["ENGINE"] not in ("django.db.backends.postgresql", "django.db.backends.sqlite3"):
    raise EnvError(
        "DATABASE_URL", f"only postgres:// and sqlite:// are supported, got {_shown_url!r}"
    )
DATABASE_IS_POSTGRES = _db["ENGINE"] == "django.db.backends.postgresql"
if DATABASE_IS_POSTGRES:
    _pool_size = env_int("DATABASE_POOL_MAX_SIZE", 20, minimum=0)
    if _pool_size:
        # Django's own psycopg 3 pool bounds the connections every thread of a process may hold.
        _db["CONN_MAX_AGE"] = 0
        _db.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": _pool_size,
            "timeout": env_float("DATABASE_POOL_TIMEOUT", 10.0, minimum=0.1),
        }
else:
    Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _db.setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "authentication.User"
AUTHENTICATION_BACKENDS = ["hub.domain.authentication.backends.EmailBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
]
LOGIN_URL = "/admin/login/"

# --- redis, channels, dramatiq ------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))
# Keys in Redis start with this, so several hubs (or test runs) can share one server.
HUB_CHANNEL_PREFIX = env_str("HUB_CHANNEL_PREFIX", "hub") or "hub"
# Which channels-redis layer: "core" (lists + sorted sets) or "pubsub" (Redis pub/sub). Each
# web process has one subscription, so both carry one message per event per process; see
# bench/README.md for the measurement behind the default.
HUB_CHANNEL_LAYER = env_str("HUB_CHANNEL_LAYER", "core") or "core"
if HUB_CHANNEL_LAYER not in ("core", "pubsub"):
    raise EnvError("HUB_CHANNEL_LAYER", f"expected core or pubsub, got {HUB_CHANNEL_LAYER!r}")
if REDIS_URL and HUB_CHANNEL_LAYER == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": HUB_CHANNEL_PREFIX},
        }
    }
elif REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": HUB_CHANNEL_PREFIX,
                # Only one channel per web process (its dispatcher) receives; let it buffer bursts.
                "capacity": 1000,
                "expiry": 60,
                "group_expiry": 86400,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

DRAMATIQ_BROKER_URL = env_url(
    "DRAMATIQ_BROKER_URL", REDIS_URL, schemes=("redis", "rediss", "amqp", "amqps")
)
# QueueStats before Retries: Dramatiq runs the after_* hooks in reverse, so it sees Retries' choice.
_DRAMATIQ_MIDDLEWARE = [
    "dramatiq.middleware.AgeLimit",
    "dramatiq.middleware.TimeLimit",
    "dramatiq.middleware.Callbacks",
    "hub.workers.stats.QueueStats",
    "dramatiq.middleware.Retries",
    "django_dramatiq.middleware.DbConnectionsMiddleware",
]
if DRAMATIQ_BROKER_URL is None:
    DRAMATIQ_BROKER = {"BROKER": "dramatiq.brokers.stub.StubBroker", "OPTIONS": {}}
elif DRAMATIQ_BROKER_URL.startswith("amqp"):
    if importlib.util.find_spec("pika") is None:
        raise EnvError("DRAMATIQ_BROKER_URL", "amqp:// needs the pika package (dramatiq[rabbitmq])")
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.rabbitmq.RabbitmqBroker",
        "OPTIONS": {"url": DRAMATIQ_BROKER_URL},
    }
else:
    DRAMATIQ_BROKER = {
        "BROKER": "dramatiq.brokers.redis.RedisBroker",
        "OPTIONS": {"url": DRAMATIQ_BROKER_URL},
    }
DRAMATIQ_BROKER["MIDDLEWARE"] = _DRAMATIQ_MIDDLEWARE
DRAMATIQ_AUTODISCOVER_MODULES = ["actors"]
# Without a broker URL the web process runs a Dramatiq worker thread on the stub broker.
HUB_INPROCESS_WORKER = DRAMATIQ_BROKER_URL is None and env_bool("HUB_INPROCESS_WORKER", True)
# The operations page (/console/ops/): new figures pushed this often; each web process saves
# its open websockets per company this often (a process unheard of for 3 times that is gone).
HUB_OPS_REFRESH_SECONDS = env_float("HUB_OPS_REFRESH_SECONDS", 2.0, minimum=0.5)
HUB_OPS_PRESENCE_SECONDS = env_float("HUB_OPS_PRESENCE_SECONDS", 5.0, minimum=0.5)


# --- e-mail credentials -------------------------------------------------------------------
def _dev_fernet_key(secret: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(f"email:{secret}".encode()).digest()).decode()


EMAIL_ENCRYPTION_KEYS = env_list("EMAIL_ENCRYPTION_KEY", [])
if EMAIL_ENCRYPTION_KEYS:
    from cryptography.fernet import Fernet

    for _key in EMAIL_ENCRYPTION_KEYS:
        try:
            Fernet(_key)
        except (ValueError, TypeError):
            raise EnvError(
                "EMAIL_ENCRYPTION_KEY",
                "each comma-separated key must be a 32-byte url-safe base64 Fernet key",
            ) from None
elif DEBUG:
    EMAIL_ENCRYPTION_KEYS = [_dev_fernet_key(SECRET_KEY)]

# --- mail: sync, sending, tracking (docs/mail.md) ---------------------------------------
# How often the scheduler queues a sync of every sync_enabled account (one run per account at a
# time, however many workers).
HUB_EMAIL_SYNC_INTERVAL_SECONDS = env_int("HUB_EMAIL_SYNC_INTERVAL_SECONDS", 60, minimum=1)
# A folder's first sync takes the messages of its last this many days.
HUB_EMAIL_SYNC_WINDOW_DAYS = env_int("HUB_EMAIL_SYNC_WINDOW_DAYS", 90, minimum=1)
# Messages fetched (and stored, in one transaction) per IMAP FETCH.
HUB_EMAIL_SYNC_BATCH_SIZE = env_int("HUB_EMAIL_SYNC_BATCH_SIZE", 200, minimum=1)
# A run holds its account this long, renewed after each batch; a crashed run's account is
# free again once it passes.
HUB_EMAIL_SYNC_LEASE_SECONDS = env_int("HUB_EMAIL_SYNC_LEASE_SECONDS", 300, minimum=10)
# Attachments larger than this are not stored (their name, size and type still are).
HUB_EMAIL_ATTACHMENT_MAX_BYTES = env_int(
    "HUB_EMAIL_ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024, minimum=0
)
# Messages larger than this are stored from their headers and text part only (their
# attachments by name, size and type): the whole message is never fetched into memory.
HUB_EMAIL_MESSAGE_MAX_BYTES = env_int("HUB_EMAIL_MESSAGE_MAX_BYTES", 25 * 1024 * 1024, minimum=1024)
# A server that offers no TLS (no STARTTLS, not port 993/465) gets no password, unless it is on
# this machine (loopback) or this is on.
HUB_EMAIL_ALLOW_PLAINTEXT_LOGIN = env_bool("HUB_EMAIL_ALLOW_PLAINTEXT_LOGIN", False)
HUB_EMAIL_IMAP_TIMEOUT_SECONDS = env_float("HUB_EMAIL_IMAP_TIMEOUT_SECONDS", 30.0, minimum=0.1)
HUB_EMAIL_SMTP_TIMEOUT_SECONDS = env_float("HUB_EMAIL_SMTP_TIMEOUT_SECONDS", 30.0, minimum=0.1)
# Tries of one outbound e-mail before it is marked failed (backoff doubles from 15 s).
HUB_EMAIL_SEND_MAX_ATTEMPTS = env_int("HUB_EMAIL_SEND_MAX_ATTEMPTS", 5, minimum=1)
# How often queued e-mails whose send job was lost are queued again.
HUB_EMAIL_SEND_SWEEP_SECONDS = env_int("HUB_EMAIL_SEND_SWEEP_SECONDS", 60, minimum=1)
# How often new leads and deals in the event log are run through the lead_created /
# deal_created e-mail rules.
HUB_EMAIL_RULES_INTERVAL_SECONDS = env_float("HUB_EMAIL_RULES_INTERVAL_SECONDS", 5.0, minimum=0.1)

# --- i18n, static -------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Only when it exists: a missing directory is a warning of `check --deploy` (staticfiles.W004).
STATICFILES_DIRS = [path for path in [BASE_DIR / "hub" / "static"] if path.is_dir()]
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"

# --- security -----------------------------------------------------------------------------
HUB_BEHIND_PROXY = env_bool("HUB_BEHIND_PROXY", False)
if HUB_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("HUB_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_SSL_REDIRECT = env_bool("HUB_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("HUB_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HUB_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("HUB_HSTS_PRELOAD", True)

# --- logging ------------------------------------------------------------------------------
LOG_LEVEL = (env_str("LOG_LEVEL", "INFO") or "INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise EnvError(
        "LOG_LEVEL", f"expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {LOG_LEVEL!r}"
    )
LOG_FORMAT = env_str("LOG_FORMAT", "console" if sys.stderr.isatty() else "json")
if LOG_FORMAT not in ("console", "json"):
    raise EnvError("LOG_FORMAT", f"expected console or json, got {LOG_FORMAT!r}")
LOGGING_CONFIG = None  # structlog and the stdlib are configured in hub.ops.logging

from hub.ops.logging import configure_logging  # noqa: E402

configure_logging(level=LOG_LEVEL, fmt=LOG_FORMAT)

# --- the hub ------------------------------------------------------------------------------
HUB_REPLAY_WINDOW_SECONDS = env_int("HUB_REPLAY_WINDOW_SECONDS", 24 * 3600, minimum=60)
HUB_RESUME_MAX_EVENTS = env_int("HUB_RESUME_MAX_EVENTS", 5000, minimum=1)
HUB_WS_MAX_FRAME_BYTES = env_int("HUB_WS_MAX_FRAME_BYTES", 64 * 1024, minimum=1024)
HUB_INVITATION_DAYS = 7
HUB_WS_AUTH_TIMEOUT_SECONDS = env_float("HUB_WS_AUTH_TIMEOUT_SECONDS", 5.0, minimum=0.1)
HUB_WS_AUTH_DB_TIMEOUT_SECONDS = env_float("HUB_WS_AUTH_DB_TIMEOUT_SECONDS", 5.0, minimum=0.1)
HUB_WS_IDLE_TIMEOUT_SECONDS = env_float("HUB_WS_IDLE_TIMEOUT_SECONDS", 90.0, minimum=1.0)
HUB_WS_REVALIDATE_SECONDS = env_float("HUB_WS_REVALIDATE_SECONDS", 60.0, minimum=1.0)
HUB_WS_SEND_BUFFER = env_int("HUB_WS_SEND_BUFFER", 1000, minimum=1)
HUB_WS_SEND_BUFFER_BYTES = env_int("HUB_WS_SEND_BUFFER_BYTES", 4 * 1024 * 1024, minimum=1024)
HUB_WS_DRAIN_BATCH = env_int("HUB_WS_DRAIN_BATCH", 500, minimum=1)
HUB_WS_DRAIN_INTERVAL_SECONDS = env_float("HUB_WS_DRAIN_INTERVAL_SECONDS", 0.2, minimum=0.0)
HUB_WS_RATE_PER_SECOND = env_float("HUB_WS_RATE_PER_SECOND", 20.0, minimum=0.1)
HUB_WS_RATE_BURST = env_int("HUB_WS_RATE_BURST", 60, minimum=1)
HUB_GROUP_REFRESH_SECONDS = env_float("HUB_GROUP_REFRESH_SECONDS", 600.0, minimum=0.05)
# With PostgreSQL but no shared channel layer, the web process runs the relay itself.
HUB_INPROCESS_RELAY = env_bool("HUB_INPROCESS_RELAY", True)
# Retention (the scheduler's retention job): events older than HUB_REPLAY_WINDOW_SECONDS and
# applied Twilio callbacks older than HUB_TWILIO_CALLBACK_RETENTION_DAYS are deleted this often,
# this many rows per transaction, at most HUB_RETENTION_MAX_ROWS per table in one run.
HUB_RETENTION_INTERVAL_SECONDS = env_int("HUB_RETENTION_INTERVAL_SECONDS", 3600, minimum=1)
HUB_RETENTION_BATCH_SIZE = env_int("HUB_RETENTION_BATCH_SIZE", 1000, minimum=1)
HUB_RETENTION_MAX_ROWS = env_int("HUB_RETENTION_MAX_ROWS", 100_000, minimum=1)

# --- Twilio webhooks ----------------------------------------------------------------------
# Webhooks answer 503 until both are set; the rest of the hub starts without them.
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
if TWILIO_ACCOUNT_SID and not (
    len(TWILIO_ACCOUNT_SID) == 34
    and TWILIO_ACCOUNT_SID.startswith("AC")
    and all(c in "0123456789abcdefABCDEF" for c in TWILIO_ACCOUNT_SID[2:])
):
    raise EnvError("TWILIO_ACCOUNT_SID", "expected AC followed by 32 hex digits")
TWILIO_AUTH_TOKEN = env_secret("TWILIO_AUTH_TOKEN")
# Unprocessed webhook callbacks are re-enqueued this often (by the scheduler process).
HUB_TWILIO_SWEEP_SECONDS = env_int("HUB_TWILIO_SWEEP_SECONDS", 30, minimum=1)
# A worker applies at most this many stored callbacks in one transaction.
HUB_TWILIO_BATCH_SIZE = env_int("HUB_TWILIO_BATCH_SIZE", 20, minimum=1)
# When callbacks come in quick succession, a drain waits this long for more to join its batch.
# At most 1 s: the doorbell expires after 5 s, and the wait delays every callback of the batch.
HUB_TWILIO_BATCH_WAIT_MS = env_int("HUB_TWILIO_BATCH_WAIT_MS", 10, minimum=0, maximum=1000)
# Applied callbacks are kept this long (for the console), then deleted by retention.
HUB_TWILIO_CALLBACK_RETENTION_DAYS = env_int("HUB_TWILIO_CALLBACK_RETENTION_DAYS", 30, minimum=1)

# --- Twilio REST --------------------------------------------------------------------------
# Unset: Twilio's own API. Tests point the real client library at a loopback fake with it.
TWILIO_API_BASE_URL = env_url("TWILIO_API_BASE_URL", schemes=("http", "https"))
TWILIO_API_BASE_URL = TWILIO_API_BASE_URL.rstrip("/") if TWILIO_API_BASE_URL else None
TWILIO_HTTP_TIMEOUT_SECONDS = env_float("TWILIO_HTTP_TIMEOUT_SECONDS", 10.0, minimum=0.1)
# A call still not final this long after it was created is fetched from the REST API.
TWILIO_RECONCILE_AGE_SECONDS = env_int("TWILIO_RECONCILE_AGE_SECONDS", 600, minimum=1)
TWILIO_RECONCILE_INTERVAL_SECONDS = env_int("TWILIO_RECONCILE_INTERVAL_SECONDS", 300, minimum=1)

# --- Slack --------------------------------------------------------------------------------
# /slack/events answers 503 until the signing secret is set; the rest of the hub starts without.
SLACK_SIGNING_SECRET = env_secret("SLACK_SIGNING_SECRET")
# Tests point the real slack_sdk client at a loopback fake with it.
_SLACK_API_URL = env_url("SLACK_API_URL", "https://slack.com/api/", schemes=("http", "https"))
SLACK_API_URL = (_SLACK_API_URL or "https://slack.com/api/").rstrip("/") + "/"
SLACK_HTTP_TIMEOUT_SECONDS = env_float("SLACK_HTTP_TIMEOUT_SECONDS", 10.0, minimum=0.1)
HUB_SLACK_INSTALLATION_CACHE_SECONDS = env_float(
    "HUB_SLACK_INSTALLATION_CACHE_SECONDS", 5.0, minimum=0.0
)
# "Add to Slack" (/slack/install, /slack/oauth_redirect): off until both are set.
SLACK_CLIENT_ID = env_str("SLACK_CLIENT_ID", "") or ""
SLACK_CLIENT_SECRET = env_secret("SLACK_CLIENT_SECRET")
# Where Slack's authorize page is (tests: the loopback fake); https://slack.com/oauth/v2/authorize.
_SLACK_AUTHORIZE_URL = env_url(
    "SLACK_AUTHORIZE_URL", "https://slack.com/oauth/v2/authorize", schemes=("http", "https")
)
SLACK_AUTHORIZE_URL = _SLACK_AUTHORIZE_URL or "https://slack.com/oauth/v2/authorize"
SLACK_OAUTH_STATE_TTL_SECONDS = env_int("SLACK_OAUTH_STATE_TTL_SECONDS", 600, minimum=30)
# Alerts: how often the scheduler turns new events into Slack alerts, and how many times an
# alert that fails (other than a 429, always retried after its Retry-After) is tried.
HUB_SLACK_ALERTS_INTERVAL_SECONDS = env_float("HUB_SLACK_ALERTS_INTERVAL_SECONDS", 2.0, minimum=0.2)
HUB_SLACK_ALERT_MAX_ATTEMPTS = env_int("HUB_SLACK_ALERT_MAX_ATTEMPTS", 8, minimum=1)
