"""The parameters of a report: date range in the organisation's zone, filters and
optional business hours. Parsed from a query string; bad input names the field."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

DEFAULT_DAYS = 30
MAX_DAYS = 366
WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
_HOURS_PART = re.compile(
    r"^(?P<d1>[a-z]{3})(?:-(?P<d2>[a-z]{3}))?\s+(?P<h1>\d{1,2}):(?P<m1>\d{2})-(?P<h2>\d{1,2}):(?P<m2>\d{2})$"
)


class ReportInputError(ValidationError):
    """Bad report input; `field` names the parameter."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.text = message


@dataclass(frozen=True)
class BusinessHours:
    """Weekly opening ranges: (ISO weekday 1..7, start second, end second) in local time."""

    ranges: tuple[tuple[int, int, int], ...]
    text: str = ""

    @property
    def week_seconds(self) -> int:
        return sum(end - start for _d, start, end in self.ranges)


@dataclass(frozen=True)
class ReportParams:
    organization_id: int
    tz: ZoneInfo
    start_date: date
    end_date: date  # inclusive
    number_id: int | None = None
    team_id: int | None = None
    agent_id: int | None = None
    label_id: int | None = None
    hours: BusinessHours | None = None
    now: datetime = field(default_factory=timezone.now)

    @property
    def start(self) -> datetime:
        """First instant of the range: local midnight of the first day (inclusive)."""
        return datetime.combine(self.start_date, time.min, tzinfo=self.tz)

    @property
    def end(self) -> datetime:
        """Local midnight after the last day (exclusive): the whole last day is in."""
        return datetime.combine(self.end_date + timedelta(days=1), time.min, tzinfo=self.tz)

    @property
    def has_conversation_filter(self) -> bool:
        return any(v is not None for v in (self.number_id, self.team_id, self.agent_id, self.label_id))

    def as_dict(self) -> dict:
        return {
            "start": self.start_date.isoformat(),
            "end": self.end_date.isoformat(),
            "timezone": self.tz.key,
            "number": self.number_id,
            "team": self.team_id,
            "agent": self.agent_id,
            "label": self.label_id,
            "hours": self.hours.text if self.hours else "",
        }


def business_hours_parse(text: str) -> BusinessHours | None:
    """'mon-fri 09:00-18:00, sat 09:00-13:00' -> BusinessHours. Ranges of a day must
    not overlap; an end of 24:00 is the end of the day."""
    text = (text or "").strip().lower()
    if not text:
        return None
    ranges: list[tuple[int, int, int]] = []
    for part in re.split(r"[,;]", text):
        part = " ".join(part.split())
        if not part:
            continue
        m = _HOURS_PART.match(part)
        if not m or m["d1"] not in WEEKDAYS or (m["d2"] and m["d2"] not in WEEKDAYS):
            raise ReportInputError("hours", _("hours: write ranges such as 'mon-fri 09:00-18:00, sat 09:00-13:00'."))
        d1 = WEEKDAYS[m["d1"]]
        d2 = WEEKDAYS[m["d2"]] if m["d2"] else d1
        start = int(m["h1"]) * 3600 + int(m["m1"]) * 60
        end = int(m["h2"]) * 3600 + int(m["m2"]) * 60
        if int(m["m1"]) > 59 or int(m["m2"]) > 59 or end > 86400 or start >= end or d2 < d1:
            raise ReportInputError("hours", _("hours: '%(part)s' is not a valid range.") % {"part": part})
        for day in range(d1, d2 + 1):
            ranges.append((day, start, end))
    ranges.sort()
    for (d_a, _s_a, e_a), (d_b, s_b, _e_b) in zip(ranges, ranges[1:]):
        if d_a == d_b and s_b < e_a:
            raise ReportInputError("hours", _("hours: ranges of the same day overlap."))
    if not ranges:
        return None
    return BusinessHours(ranges=tuple(ranges), text=text)


def _int_or_none(data, name: str) -> int | None:
    raw = (data.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ReportInputError(name, _("%(field)s must be an id.") % {"field": name}) from None
    if value <= 0:
        raise ReportInputError(name, _("%(field)s must be an id.") % {"field": name})
    return value


def _date_or_none(data, name: str) -> date | None:
    raw = (data.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ReportInputError(name, _("%(field)s must be a date (YYYY-MM-DD).") % {"field": name}) from None


def organization_zone(organization) -> ZoneInfo:
    try:
        return ZoneInfo(organization.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@cache
def zone_choices() -> list[str]:
    """The IANA time zones a report may be read in (Area/City names, and UTC)."""
    from zoneinfo import available_timezones

    return ["UTC"] + sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def _zone_or_none(data, name: str) -> ZoneInfo | None:
    raw = (data.get(name) or "").strip()
    if not raw:
        return None
    if raw not in zone_choices():
        raise ReportInputError(name, _("%(field)s must be a time zone such as America/Sao_Paulo.") % {"field": name})
    return ZoneInfo(raw)


def report_params_parse(*, user, data, now: datetime | None = None) -> ReportParams:
    """Read start, end (inclusive dates), tz, number, team, agent, label and hours from
    a query dict. Ids must belong to the user's organisation. Default: the last 30
    days up to today, in the organisation's time zone (or `tz`, an IANA zone)."""
    from apps.accounts.models import Team, User
    from apps.conversations.models import Label
    from apps.whatsapp.models import WhatsAppNumber

    organization = user.organization
    tz = _zone_or_none(data, "tz") or organization_zone(organization)
    now = now or timezone.now()
    today = now.astimezone(tz).date()
    end_date = _date_or_none(data, "end") or today
    start_date = _date_or_none(data, "start") or end_date - timedelta(days=DEFAULT_DAYS - 1)
    if start_date > end_date:
        raise ReportInputError("start", _("start must not be after end."))
    if (end_date - start_date).days + 1 > MAX_DAYS:
        raise ReportInputError("start", _("A report covers at most %(days)d days.") % {"days": MAX_DAYS})
    ids = {name: _int_or_none(data, name) for name in ("number", "team", "agent", "label")}
    models = {"number": WhatsAppNumber, "team": Team, "agent": User, "label": Label}
    for name, value in ids.items():
        if value is not None and not models[name].objects.filter(pk=value, organization_id=organization.pk).exists():
            raise ReportInputError(name, _("%(field)s: no such item in your organisation.") % {"field": name})
    return ReportParams(
        organization_id=organization.pk,
        tz=tz,
        start_date=start_date,
        end_date=end_date,
        number_id=ids["number"],
        team_id=ids["team"],
        agent_id=ids["agent"],
        label_id=ids["label"],
        hours=business_hours_parse(data.get("hours") or ""),
        now=now,
    )
