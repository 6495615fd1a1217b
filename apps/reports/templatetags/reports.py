from django import template

from apps.reports.labels import DURATION_COLUMNS, LABELS

register = template.Library()


@register.filter
def report_label(key):
    return LABELS.get(key, key)


@register.filter
def report_cell(value, column):
    """A cell for the page: durations as h/min/s, rates as percentages, keys as labels."""
    if value is None:
        return "–"
    if column in DURATION_COLUMNS:
        seconds = float(value)
        if seconds < 60:
            return f"{seconds:.0f} s"
        if seconds < 3600:
            return f"{seconds / 60:.1f} min"
        return f"{seconds / 3600:.1f} h"
    if column in ("rate", "share_of_total"):
        return f"{float(value) * 100:.1f} %"
    if isinstance(value, str) and value in LABELS:
        return LABELS[value]
    return value


@register.filter
def zip_columns(row, columns):
    return list(zip(row, columns))
