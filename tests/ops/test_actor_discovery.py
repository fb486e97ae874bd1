"""``manage.py rundramatiq`` hands the worker processes every actor of ``hub/workers``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# In a fresh interpreter, where nothing has imported an actor module yet: the modules
# django_dramatiq discovers are imported as the dramatiq CLI imports them, then every module
# of hub/workers, and each time the actors declared so far are listed.
_SCRIPT = """
import importlib, json, pkgutil
import django
django.setup()
import dramatiq
import hub.workers
from django_dramatiq.management.commands.rundramatiq import Command
for module in Command().discover_tasks_modules():
    importlib.import_module(module)
discovered = sorted(dramatiq.get_broker().get_declared_actors())
for info in pkgutil.iter_modules(hub.workers.__path__, "hub.workers."):
    importlib.import_module(info.name)
every = sorted(dramatiq.get_broker().get_declared_actors())
print(json.dumps({"discovered": discovered, "every": every}))
"""


def test_the_worker_process_declares_every_actor_of_hub_workers():
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    actors = json.loads(done.stdout.strip().splitlines()[-1])
    assert actors["discovered"] == actors["every"]
    assert {"slack_call_place", "calls_reconcile", "retention_prune"} <= set(actors["every"])
