"""Settings for the test suite: the real settings, with a test secret and a fast hasher."""

import os

os.environ.setdefault(
    "SECRET_KEY", "test-secret-key-that-is-long-enough-for-django-checks-0123456789"
)
os.environ.setdefault("LOG_FORMAT", "console")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("HUB_PUBLIC_URL", "https://hub.example.test")
os.environ.setdefault("HUB_INPROCESS_WORKER", "0")
# The test process uses plain connections; the servers the live tests start use the pool.
os.environ.setdefault("DATABASE_POOL_MAX_SIZE", "0")
# Test runs sharing one Redis must not hear each other's events.
os.environ.setdefault("HUB_CHANNEL_PREFIX", f"hubtest{os.getpid()}")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SECURE_SSL_REDIRECT = False

if DATABASE_IS_POSTGRES:  # noqa: F405
    # One test database per run, so concurrent runs on one server do not drop each other's.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}  # noqa: F405
