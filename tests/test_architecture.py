"""The checker of the floors of the house (tests/architecture.py), on tiny packages."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.architecture import Unplaced, check, problems

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
