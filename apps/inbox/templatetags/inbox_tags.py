"""Filters of the inbox templates."""

from django import template
from django.utils import timezone
from django.utils.html import urlize
from django.utils.safestring import mark_safe

from apps.inbox.presenters import zone_of

register = template.Library()


@register.filter(is_safe=True)
def linkify(text) -> str:
    """Escape the text, turn its URLs into links that open in a new tab without
    giving the page a handle on ours, and keep its line breaks."""
    if text is None:
        return ""
    html = urlize(str(text), nofollow=True, autoescape=True)
    html = html.replace(' rel="nofollow"', ' rel="nofollow noopener noreferrer" target="_blank"')
    return mark_safe(html.replace("\n", "<br>"))


@register.filter
def org_day(value, conversation) -> str:
    """The ISO day of `value` in the conversation's organisation's time zone."""
    if not value:
        return ""
    return timezone.localtime(value, zone_of(conversation.organization)).date().isoformat()


@register.filter
def org_time(value, conversation) -> str:
    if not value:
        return ""
    return timezone.localtime(value, zone_of(conversation.organization)).strftime("%H:%M")
