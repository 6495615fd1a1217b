"""Pure helpers of the bot: business hours, keyword matching, the model's context,
and cutting long replies. No writes here."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time

from django.utils import timezone

from .knowledge import fold, tokens

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WHATSAPP_TEXT_MAX = 4096


class HoursError(ValueError):
    pass


@dataclass(frozen=True)
class Range:
    day: int
    start: time
    end: time


def _time(text: str) -> time:
    match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?", text.strip())
    if not match:
        raise HoursError(f"“{text}” is not a time like 09:00.")
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour == 24 and minute == 0:
        return time(23, 59, 59)
    if hour > 23 or minute > 59:
        raise HoursError(f"“{text}” is not a time of day.")
    return time(hour, minute)


def _days(text: str) -> list[int]:
    found: list[int] = []
    for part in text.split(","):
        part = part.strip().lower()
        if "-" in part:
            first, last = (p.strip()[:3] for p in part.split("-", 1))
            if first not in DAYS or last not in DAYS:
                raise HoursError(f"“{part}” is not a range of weekdays like mon-fri.")
            a, b = DAYS.index(first), DAYS.index(last)
            found.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        elif part[:3] in DAYS:
            found.append(DAYS.index(part[:3]))
        else:
            raise HoursError(f"“{part}” is not a weekday (mon, tue, wed, thu, fri, sat, sun).")
    return found


def parse_hours(text: str) -> list[Range]:
    """"mon-fri 09:00-18:00; sat 09:00-13:00" (several time ranges: "09:00-12:00,14:00-18:00")."""
    ranges: list[Range] = []
    for entry in re.split(r"[;\n]", text or ""):
        entry = entry.strip()
        if not entry:
            continue
        match = re.fullmatch(r"([a-zA-Z,\- ]+?)\s+([\d:,\- ]+)", entry)
        if not match:
            raise HoursError(f"“{entry}” should look like “mon-fri 09:00-18:00”.")
        days = _days(match.group(1).replace(" ", ""))
        for span in match.group(2).split(","):
            if "-" not in span:
                raise HoursError(f"“{span.strip()}” should be a range like 09:00-18:00.")
            start, end = (_time(t) for t in span.split("-", 1))
            if end <= start:
                raise HoursError(f"“{span.strip()}” ends before it starts.")
            ranges.extend(Range(day, start, end) for day in days)
    return ranges


def local_now(organization, now: datetime | None = None) -> datetime:
    try:
        zone = zoneinfo.ZoneInfo(organization.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return (now or timezone.now()).astimezone(zone)


def within_hours(ranges: list[Range], moment: datetime) -> bool:
    clock = moment.time().replace(tzinfo=None)
    return any(r.day == moment.weekday() and r.start <= clock < r.end for r in ranges)


def describe_hours(ranges: list[Range]) -> str:
    if not ranges:
        return "not set"
    parts = [f"{DAY_NAMES[r.day]} {r.start:%H:%M}-{r.end:%H:%M}" for r in sorted(ranges, key=lambda r: (r.day, r.start))]
    return ", ".join(parts)


def phrase_in(phrases, text: str) -> str | None:
    """The first of `phrases` found in `text` as whole words (accents and case ignored)."""
    haystack = " " + " ".join(re.findall(r"\w+", fold(text))) + " "
    for phrase in phrases or []:
        needle = " ".join(re.findall(r"\w+", fold(str(phrase))))
        if needle and f" {needle} " in haystack:
            return str(phrase)
    return None


def similar(a: str, b: str, threshold: float = 0.6) -> bool:
    """Whether two customer messages say about the same thing (token overlap)."""
    ta, tb = set(tokens(a)), set(tokens(b))
    if not ta or not tb:
        return fold(a).strip() == fold(b).strip() and bool(a.strip())
    return len(ta & tb) / len(ta | tb) >= threshold


def describe_message(message) -> str:
    """A message as text for the model: media by type and caption."""
    kind = message.type
    content = message.content or {}
    if kind == "text":
        return message.text
    if kind in ("image", "video", "document", "sticker"):
        caption = message.text or ""
        label = {"image": "photo", "video": "video", "document": "document", "sticker": "sticker"}[kind]
        return f"[{label}{': ' + caption if caption else ''}]"
    if kind == "audio":
        return "[voice message]" if content.get("voice") else "[audio]"
    if kind == "location":
        return f"[location: {message.text or '{}, {}'.format(content.get('latitude'), content.get('longitude'))}]"
    if kind == "contacts":
        return f"[contact card: {message.text}]"
    if kind in ("interactive", "button"):
        return f"[chose: {message.text}]" if message.direction == "in" else message.text
    if kind == "template":
        return message.text or "[template message]"
    if kind == "request_welcome":
        return "[opened the chat]"
    return message.text or f"[{message.get_type_display().lower()}]"


def split_text(text: str, limit: int = WHATSAPP_TEXT_MAX) -> list[str]:
    """Cut `text` into parts of at most `limit` characters, at a paragraph, line,
    sentence or word boundary when there is one in the second half of the part."""
    text = text.strip()
    parts = []
    while len(text) > limit:
        window = text[:limit]
        cut = -1
        for separator in ("\n\n", "\n", ". ", " "):
            at = window.rfind(separator)
            if at >= limit // 2:
                cut = at + len(separator.rstrip(" ")) if separator == ". " else at
                break
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts
