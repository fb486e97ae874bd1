"""The baseline of bench/twilio_callbacks.py: a minimal synchronous Django view on daphne that
verifies Twilio's signature, inserts the callback into PostgreSQL and pushes its id to Redis.

    BENCH_DATABASE_URL=... BENCH_REDIS_URL=... TWILIO_AUTH_TOKEN=... HUB_PUBLIC_URL=... \\
        daphne -p 8001 bench.twilio_baseline:application
"""

from __future__ import annotations

import json
import os

import dj_database_url
import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-baseline",  # noqa: S106
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    DATABASES={"default": dj_database_url.parse(os.environ["BENCH_DATABASE_URL"])},
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)
django.setup()

import redis  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

VALIDATOR = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
PUBLIC = os.environ["HUB_PUBLIC_URL"]
QUEUE = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])


@csrf_exempt
def callback(request):
    url = f"{PUBLIC}{request.get_full_path()}"
    if not VALIDATOR.validate(url, request.POST, request.headers.get("X-Twilio-Signature", "")):
        return HttpResponse(status=403)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_baseline_callback (params) VALUES (%s) RETURNING id",
            [json.dumps(request.POST.dict())],
        )
        row_id = cursor.fetchone()[0]
    QUEUE.lpush("bench:twilio:baseline", row_id)
    return HttpResponse(status=204)


urlpatterns = [path("twilio/voice/status", callback)]
application = get_asgi_application()
