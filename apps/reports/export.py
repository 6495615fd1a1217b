"""CSV export of a report table, safe to open in a spreadsheet.

A text cell that begins with =, +, -, @, a tab or a carriage return could be read as a
formula (CSV injection): it is neutralised by prefixing a single quote. Numbers are
written as numbers.
"""

from __future__ import annotations

import csv
import io

from .sections import Table

DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    if text.startswith(DANGEROUS_FIRST):
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
