from django import template

from apps.reports.labels import DURATION_COLUMNS, LABELS

register = template.Library()


@register.filter
def report_label(key):
    return LABELS.get(key, key)


@register.filter
def report_cell(value, column):
    """A cell for the page: durations as h:mm:ss, rates as percentages, keys as labels."""
    if value is None:
        return "–"
    if column in DURATION_COLUMNS:
        # One unit family for every duration: hours, minutes and seconds (h:mm:ss).
        total = round(float(value))
        hours, rest = divmod(total, 3600)
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    if column in ("rate", "share_of_total"):
        return f"{float(value) * 100:.1f} %"
    if isinstance(value, str) and value in LABELS:
        return LABELS[value]
    return value


@register.filter
def zip_columns(row, columns):
    return list(zip(row, columns))
