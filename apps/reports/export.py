"""CSV export of a report table, safe to open in a spreadsheet.

A text cell a spreadsheet could read as a formula (CSV injection) is neutralised by
prefixing a single quote: one whose first character, past any leading spaces, line
breaks, tabs and invisible characters (spreadsheets skip them), is =, +, - or @ in any
of their Unicode forms (full-width ＝＋－＠, small ﹦﹢﹣﹫, the minus sign −), and one
that begins with a tab or a carriage return. Numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
import unicodedata

from .sections import Table

FORMULA_FIRST = frozenset("=+-@\u2212")
DANGEROUS_FIRST = ("\t", "\r")


def _skipped(char: str) -> bool:
    """Leading characters a spreadsheet skips before it looks for a formula."""
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp")


def formula_risk(text: str) -> bool:
    if text.startswith(DANGEROUS_FIRST):
        return True
    for char in text:
        if _skipped(char):
            continue
        return unicodedata.normalize("NFKC", char)[:1] in FORMULA_FIRST
    return False


def csv_cell(value) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    if formula_risk(text):
        return "'" + text
    return text


def table_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(c) for c in table.columns])
    for row in table.rows:
        writer.writerow([csv_cell(c) for c in row])
    return out.getvalue()


def csv_filename(table: Table, params) -> str:
    return f"{table.name}_{params.start_date.isoformat()}_{params.end_date.isoformat()}.csv"
