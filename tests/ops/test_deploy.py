"""Production settings: `check --deploy` is clean; proxy headers are trusted only behind a proxy."""

from __future__ import annotations

import json
import sys

import pytest

from tests.ops.conftest import manage, production_env, run

NO_ISSUES = "System check identified no issues (0 silenced).\n"


@pytest.mark.parametrize("behind_proxy", ["1", None], ids=["behind-proxy", "direct"])
def test_check_deploy_is_clean_in_production(tmp_path, behind_proxy):
    env = production_env(tmp_path, HUB_BEHIND_PROXY=behind_proxy)

    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout == NO_ISSUES
    assert result.stderr == ""


def test_check_deploy_does_complain_with_debug_on(tmp_path):
    # The clean run above means something only if the same command notices a real problem.
    result = manage(
        production_env(tmp_path, DEBUG="1"), "check", "--deploy", "--fail-level", "WARNING"
    )

    assert result.returncode != 0
    assert "security.W018" in result.stderr


SHOW_PROXY_SETTINGS = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps([s.SECURE_PROXY_SSL_HEADER, s.USE_X_FORWARDED_HOST]))"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", [["HTTP_X_FORWARDED_PROTO", "https"], True]),
        ("true", [["HTTP_X_FORWARDED_PROTO", "https"], True]),
        ("0", [None, False]),
        ("", [None, False]),
        (None, [None, False]),
    ],
    ids=["1", "true", "0", "empty", "unset"],
)
def test_proxy_ssl_header_only_behind_a_proxy(tmp_path, value, expected):
    env = production_env(tmp_path, HUB_BEHIND_PROXY=value)

    result = run([sys.executable, "-c", SHOW_PROXY_SETTINGS], env)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == expected
