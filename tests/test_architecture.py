"""The floors of the house (docs/architecture.md, "The floors, checked").

Each app imports only from the floors below it; a cycle or an upward import is a design
error. Every .py file under apps/ and config/ is read with `ast` (nothing is imported),
imports inside functions included; FLOORS places each module on a floor. The test fails on
an upward import, an import cycle or a pair of apps importing each other that is not in the
allow-lists below, and also when an allow-listed one is gone, so that the lists only shrink.
"""

from __future__ import annotations

import textwrap
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from tests.architecture import Unplaced, check, problems

ROOT = Path(__file__).resolve().parent.parent
DIRS = ("apps", "config")

FLOOR_NAMES = {
    1: "core",
    2: "realtime publishing",
    3: "accounts",
    4: "providers",
    5: "conversations",
    6: "media, message templates",
    7: "messaging",
    8: "bot, notifications",
    9: "inbound pipeline",
    10: "doors",
    11: "tests",
}

# Where each module lives: (path pattern, floor, why). The first row whose pattern matches
# the file's path wins (fnmatch: `*` also matches `/`). A new file that no row places fails
# the test. Serializers stay on their app's floor: services build live-event payloads with
# them (docs/architecture.md, house rule 3), so they are not doors.
FLOORS = [
    ("apps/*/tests/*", 11, "tests stand outside the house: they read any floor, "
                           "nothing reads them"),
    # Floor 10, the doors, wherever they live.
    ("apps/*/admin.py", 10, "Django admin"),
    ("apps/*/admin_*.py", 10, "Django admin's helpers (accounts' API-token pages)"),
    ("apps/*/views*.py", 10, "HTTP views"),
    ("apps/*/api*.py", 10, "REST API views and their URLs (core/api.py: their shared helpers)"),
    ("apps/*/*urls.py", 10, "URL wiring"),
    ("apps/*/management/*", 10, "manage.py commands: entry points, like views"),
    ("apps/*/templatetags/*", 10, "template tags of the pages"),
    ("apps/inbox/*", 10, "the agents' pages"),
    ("apps/reports/*", 10, "supervisors' reports"),
    ("apps/simulator/*", 10, "the provider's simulator, a peer beside the doors"),
    ("apps/live/*", 10, "the websocket door: the consumer, its URL, agents' presence and typing, "
                        "its reads (groups, catch-up)"),
    ("apps/inbound/middleware.py", 10, "the webhook door's short path through the middleware"),
    ("config/urls.py", 10, "the project's URLs"),
    ("config/api_urls.py", 10, "the REST API's URLs"),
    ("config/asgi.py", 10, "the ASGI entry point (websocket routing)"),
    ("config/wsgi.py", 10, "the WSGI entry point"),
    # Floor 9: the inbound pipeline.
    ("apps/inbound/*", 9, "stored deliveries: receiving, drain, processing, log, ownership; "
                          "their models, tasks and migrations"),
    # Floors 8 to 5: the domain, by app (migrations and serializers with their app).
    ("apps/bot/*", 8, "the bot"),
    ("apps/notifications/*", 8, "business-event notifications: a template sent on a business system's "
                                "event, through messaging's send"),
    ("apps/messaging/*", 7, "messages, statuses, sending; the token alerts (the domain's "
                            "reaction to the provider's token_refused, connected in apps.py)"),
    ("apps/media/*", 6, "media"),
    ("apps/message_templates/*", 6, "message templates"),
    ("apps/conversations/*", 5, "contacts, conversations"),
    # Floor 4: the providers, one package each; the numbers beside them in apps/whatsapp/.
    ("apps/providers/*", 4, "one package per provider (meta/: Meta's Cloud API): client, "
                            "transport, parser, events, errors, signature, destinations, body, "
                            "signals"),
    ("apps/whatsapp/*", 4, "the numbers (models) and their secrets cache"),
    ("apps/accounts/*", 3, "organisations, users, roles, teams, access"),
    ("apps/realtime/*", 2, "publish(), group names, the replay log publish() writes, "
                           "the channel layer"),
    ("apps/core/*", 1, "settings helpers, servers, crypto, fields, SQL helpers, the task runner"),
    ("apps/__init__.py", 1, "the apps package"),
    ("config/*", 1, "settings and the Celery app, read by every floor"),
]

# Upward imports still to remove, (importer, imported): none is left. The inbox's search
# and the thread, which read messages, are messaging's selectors; one coming back fails.
ALLOWED_UPWARD: set[tuple[str, str]] = set()

# Import cycles still to break, each the modules of one strongly connected component
# (none since the services name the tasks they queue: apps.core.tasks.dispatch).
ALLOWED_CYCLES: set[frozenset[str]] = set()

# Today's pairs of apps that import each other (any module of one, any of the other).
ALLOWED_APP_PAIRS = {
    frozenset(pair) for pair in [
        ("config", "core"),
        # The contacts admin's "delete the media files" action (a door) calls media's service.
        ("conversations", "media"),
        # The numbers admin's "Resume sending" action (a door) calls the sending package.
        ("messaging", "whatsapp"),
    ]
}


def test_each_floor_imports_only_from_the_floors_below():
    report = check(ROOT, DIRS, FLOORS)
    found = problems(report, allowed_upward=ALLOWED_UPWARD, allowed_cycles=ALLOWED_CYCLES,
                     allowed_app_pairs=ALLOWED_APP_PAIRS, floor_names=FLOOR_NAMES)
    assert not found, "\n".join(["The floors of the house (tests/test_architecture.py):", *found])


def test_every_row_of_the_floors_table_places_a_file():
    paths = [path.relative_to(ROOT).as_posix()
             for top in DIRS for path in (ROOT / top).rglob("*.py")]
    unused = [row for row in FLOORS if not any(fnmatchcase(path, row[0]) for path in paths)]
    assert not unused, f"rows of FLOORS that match no file (remove them): {unused}"


# The checker on a tiny package: floor 1 "low", floor 2 "high".
FAKE_FLOORS = [("apps/low/*", 1, "low"), ("apps/high/*", 2, "high"), ("apps/__init__.py", 1, "")]


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_the_checker_finds_an_upward_import_and_a_cycle(tmp_path):
    _write(tmp_path, {
        "apps/__init__.py": "",
        "apps/low/__init__.py": "",
        "apps/low/fields.py": "",
        "apps/low/models.py": """
            def f():
                from ..high import views  # lazy, relative, upward
            """,
        "apps/high/__init__.py": "",
        "apps/high/views.py": "from . import forms\n",
        "apps/high/forms.py": "import apps.high.views\nfrom apps.low.fields import *\n",
    })
    report = check(tmp_path, ["apps"], FAKE_FLOORS)

    assert list(report.upward) == [("apps.low.models", "apps.high.views")]
    upward = report.upward["apps.low.models", "apps.high.views"]
    assert [(imp.path, imp.line) for imp in upward] == [("apps/low/models.py", 3)]
    assert report.cycles == [frozenset({"apps.high.forms", "apps.high.views"})]
    assert report.app_pairs == {frozenset({"high", "low"})}

    found = problems(report, allowed_upward=set(), allowed_cycles=set(), allowed_app_pairs=set(),
                     floor_names={1: "low", 2: "high"})
    assert found[0] == (
        "apps/low/models.py:3 imports apps.high.views: apps.low.models is on floor 1 (low), which "
        "may import only from the floors below it, and apps.high.views is on floor 2 (high)")
    assert found[1] == (
        "import cycle between 2 modules (apps.high.forms, apps.high.views), one loop: "
        "apps/high/forms.py:1 imports apps.high.views; apps/high/views.py:1 imports "
        "apps.high.forms. A cycle is a design error: break it")
    assert found[2].startswith(
        "apps high and low import each other (apps/high/forms.py:2 imports apps.low.fields")

    # Allow-listed, they pass; allow-listed and gone, they fail until removed from the list.
    gone_cycle = frozenset({"apps.low.a", "apps.low.b"})
    stale = problems(report, allowed_upward={*report.upward, ("apps.low.x", "apps.high.y")},
                     allowed_cycles={*report.cycles, gone_cycle},
                     allowed_app_pairs={*report.app_pairs, frozenset({"low", "other"})},
                     floor_names={})
    assert stale == [
        "apps.low.x no longer imports apps.high.y (an allow-listed upward import): "
        "remove it from the allow-list ALLOWED_UPWARD",
        "the allow-listed cycle (apps.low.a, apps.low.b) no longer exists: "
        "remove it from the allow-list ALLOWED_CYCLES",
        "apps low and other no longer import each other: "
        "remove the pair from the allow-list ALLOWED_APP_PAIRS",
    ]


def test_the_checker_finds_nothing_in_a_clean_package(tmp_path):
    _write(tmp_path, {
        "apps/__init__.py": "",
        "apps/low/__init__.py": "",
        "apps/low/models.py": "import os\n",
        "apps/high/__init__.py": "",
        "apps/high/views.py": "from apps.low import models\nfrom .forms import Form\n",
        "apps/high/forms.py": "from ..low.models import os\n\nclass Form:\n    pass\n",
    })
    report = check(tmp_path, ["apps"], FAKE_FLOORS)

    assert (report.upward, report.cycles, report.app_pairs) == ({}, [], set())
    assert len(report.imports) == 3
    with pytest.raises(Unplaced, match="apps/high/__init__.py is on no floor"):
        check(tmp_path, ["apps"], [row for row in FAKE_FLOORS if row[0] != "apps/high/*"])
