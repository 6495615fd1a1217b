"""CSV exports never hand a spreadsheet a formula: a text cell whose first
character past leading spaces, line breaks, tabs and invisible characters is = + - @
(in any Unicode form: full-width, small, the minus sign), or that begins with a tab
or a carriage return, gets a leading single quote. Every export goes through
export.table_csv; each one is checked with names taken from the data."""

import csv
import io
import unicodedata

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.messaging.models import Message
from apps.reports.export import csv_cell, table_csv
from apps.reports.selectors import TABLES
from apps.reports.sections import Table

from .dataset import build

pytestmark = pytest.mark.django_db
RANGE = {"start": "2025-03-10", "end": "2025-03-16"}

DANGEROUS = [
    "=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx",
    " =1+1", "   @SUM(A1)", "\n=1+1", "\r\n+1", "\t=1", " \t\n -2",
    "＝1+1", "＋1", "－2", "＠SUM(A1)", "　＝1+1", " ＠x",
    "﹦1", "﹢1", "﹣1", "﹫x", "−2", "\u00a0=1", "\u200b=1", "\ufeff=1",
    '=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0",
]
HARMLESS = ["ok", "a=b", "x+1", "john@example.com", "order_update", "  plain", "", "'=already"]


@pytest.mark.parametrize("text", DANGEROUS)
def test_a_cell_that_could_start_a_formula_is_quoted(text):
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("text", HARMLESS)
def test_other_text_is_kept_as_it_is(text):
    assert csv_cell(text) == text


def test_numbers_stay_numbers():
    assert [csv_cell(v) for v in (-3, 1.5, 0, None, True)] == [-3, 1.5, 0, "", "true"]


def test_the_written_csv_carries_the_quote():
    text = table_csv(Table("t", "t", ["name", "n"], [[" =1+1", -1], ["＝2", 2]]))
    assert list(csv.reader(io.StringIO(text))) == [["name", "n"], ["' =1+1", "-1"], ["'＝2", "2"]]


def _safe(cell: str) -> bool:
    if cell.startswith("'"):
        return True
    if cell[:1] in ("\t", "\r"):
        return False
    rest = [c for c in cell if not (c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Zs"))]
    if not rest:
        return True
    first = unicodedata.normalize("NFKC", rest[0])
    if first == "-" and cell.lstrip("-").replace(".", "", 1).isdigit() and cell == cell.strip():
        return True  # a negative number written as a number
    return first not in "=+-@\u2212"


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_export_neutralises_text_from_the_data(name):
    data = build()
    client = APIClient()
    client.force_login(data.supervisor)
    # Text that reaches the exports from outside: agents' names, providers' error titles.
    data.ann.display_name = " =1+1"
    data.ann.save()
    data.bob.display_name = "\n＠SUM(A1)"
    data.bob.save()
    Message.objects.exclude(error_title="").update(error_title="　＝HYPERLINK(\"http://x\")")
    response = client.get(reverse("reports:csv", args=[name]), RANGE)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    cells = [cell for row in rows for cell in row]
    assert cells and all(_safe(cell) for cell in cells), [c for c in cells if not _safe(c)]
    text = "".join(cells)
    if name == "agents":
        assert "' =1+1" in cells and "'\n＠SUM(A1)" in cells
    if name == "failures":
        assert "'　＝HYPERLINK(\"http://x\")" in text
