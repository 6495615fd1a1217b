"""Process stored webhook deliveries again: one id, a time range, or every failure."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime
from django.utils import timezone

from apps.inbound.models import WebhookEvent
from apps.inbound.services import webhook_events_replay


def _moment(value: str):
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"not a date or time: {value!r}")
        moment = timezone.datetime(day.year, day.month, day.day)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class Command(BaseCommand):
    help = "Replay stored webhook events (idempotent: what was already stored is not stored again)."

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", type=int, help="webhook event ids")
        parser.add_argument("--since", help="received at or after this time (ISO 8601)")
        parser.add_argument("--until", help="received before this time (ISO 8601)")
        parser.add_argument("--failed", action="store_true", help="every failed or dead event")

    def handle(self, *args, ids, since, until, failed, **options):
        if not (ids or since or until or failed):
            raise CommandError("give event ids, --since/--until, or --failed")
        events = WebhookEvent.objects.exclude(status=WebhookEvent.Status.REJECTED)
        if ids:
            events = events.filter(pk__in=ids)
            missing = set(ids) - set(events.values_list("id", flat=True))
            if missing:
                raise CommandError(f"no replayable event with id {', '.join(map(str, sorted(missing)))}")
        if since:
            events = events.filter(received_at__gte=_moment(since))
        if until:
            events = events.filter(received_at__lt=_moment(until))
        if failed:
            events = events.filter(status__in=[WebhookEvent.Status.FAILED, WebhookEvent.Status.DEAD])
        count = webhook_events_replay(events=events)
        self.stdout.write(f"{count} event(s) queued for processing.")
