"""Filters of the inbox templates."""

from django import template
from django.utils import formats, timezone
from django.utils.html import urlize
from django.utils.safestring import mark_safe

from apps.inbox.presenters import phone_display, zone_of

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
    """The time of day of `value` in the organisation's time zone, in the language's
    time format: the one every time of the thread is written in."""
    if not value:
        return ""
    return formats.time_format(timezone.localtime(value, zone_of(conversation.organization)))


@register.filter
def phone(wa_id) -> str:
    """A WhatsApp id written as people read a phone number ("+55 11 98765-4321")."""
    return phone_display(str(wa_id or ""))
