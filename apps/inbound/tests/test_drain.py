"""The batched path: deliveries stored by the view, claimed and processed together
by the drain (webhook_events_drain), as the inbound worker does on PostgreSQL."""

import json

import pytest

from apps.conversations.models import Contact, Conversation
from apps.messaging.models import Message, Reaction
from apps.inbound import services
from apps.inbound.models import WebhookEvent
from apps.providers.meta.signature import secret_fingerprint
from apps.whatsapp.tests.utils import envelope, message, messages_change, status

A, B = "5511900000001", "5511900000002"


def _signed():
    """What the view records of the number fixture's secret, which signed these deliveries."""
    return secret_fingerprint("test-app-secret")


def _row(payload):
    return WebhookEvent.objects.create(body=json.dumps(payload).encode(), signature=WebhookEvent.Signature.VALID,
                                       signed_by=_signed())


def _store(number, *messages):
    payload = envelope(messages_change(phone_number_id=number.phone_number_id, messages=list(messages)))
    return _row(payload)


def _text(wamid, who, body, ts):
    return message("text", wamid=wamid, from_=who, timestamp=ts, body=body)


@pytest.mark.django_db(transaction=True)
def test_a_backlog_is_processed_as_one_batch(number, published, deliveries):
    _store(number, _text("wamid.D1", A, "one", 1718200001))
    _store(number, _text("wamid.D2", A, "two", 1718200003), _text("wamid.D3", B, "hi", 1718200002))
    _store(number, _text("wamid.D2", A, "two", 1718200003))  # Meta's redelivery
    _store(number, message("reaction", from_=B, timestamp=1718200004,
                           reaction={"message_id": "wamid.D3", "emoji": "👍"}))
    assert services.webhook_events_drain(limit=10) == 4
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}
    assert sorted(Message.objects.values_list("wamid", flat=True)) == ["wamid.D1", "wamid.D2", "wamid.D3"]
    assert Contact.objects.count() == 2
    first = Conversation.objects.get(contact__wa_id=A)
    assert (first.unread_count, first.last_message_preview) == (2, "two")
    assert Reaction.objects.get().message.wamid == "wamid.D3"
    names = [event for event, *_ in published]
    assert names.count("message.created") == 3
    assert names.count("conversation.created") == 2  # one per conversation, with its final state
    # The batch's events left together, after its commit: one delivery.
    assert len(deliveries) == 1 and [event for event, _data, _groups in deliveries[0]] == names
    # Nothing left: a second drain claims nothing, and a replay creates nothing new.
    assert services.webhook_events_drain() == 0
    WebhookEvent.objects.update(status=WebhookEvent.Status.RECEIVED)  # as a replay leaves them
    assert services.webhook_events_drain() == 4
    assert Message.objects.count() == 3
    assert Conversation.objects.get(pk=first.pk).unread_count == 2


@pytest.mark.django_db(transaction=True)
def test_a_failing_message_loses_nothing_else_in_the_batch(number, monkeypatch):
    from apps.messaging.services import inbound

    real = inbound.message_content

    def flaky(kind, content, raw):
        if content.get("body") == "bad":
            raise RuntimeError("boom")
        return real(kind, content, raw)

    monkeypatch.setattr(inbound, "message_content", flaky)
    good = _store(number, _text("wamid.G1", A, "fine", 1718200001))
    bad = _store(number, _text("wamid.B1", B, "bad", 1718200002), _text("wamid.G2", B, "also fine", 1718200003))
    from apps.core import tasks as core_tasks

    queued = []
    monkeypatch.setattr(core_tasks, "enqueue", lambda task, *args, countdown=None, **kw: queued.append(
        (getattr(task, "name", task), args, countdown)))
    assert services.webhook_events_drain() == 2
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == WebhookEvent.Status.PROCESSED
    assert (bad.status, bad.attempts) == (WebhookEvent.Status.FAILED, 1)
    assert "RuntimeError: boom" in bad.error
    assert sorted(Message.objects.values_list("wamid", flat=True)) == ["wamid.G1", "wamid.G2"]
    # The failed delivery is retried by its own task, with backoff.
    assert queued == [("inbound.process_webhook_event", (bad.pk,), services.retry_delay(1))]


def test_unknown_numbers_and_bad_bodies_are_marked(number):
    unknown = WebhookEvent.objects.create(signature=WebhookEvent.Signature.VALID, signed_by=_signed(), body=json.dumps(
        envelope(messages_change(phone_number_id="999", messages=[_text("wamid.U1", A, "x", 1718200001)]))).encode())
    broken = WebhookEvent.objects.create(signature=WebhookEvent.Signature.VALID, signed_by=_signed(), body=b"{not json")
    assert services.webhook_events_drain() == 2
    unknown.refresh_from_db()
    broken.refresh_from_db()
    assert unknown.status == WebhookEvent.Status.UNROUTED
    # A body that cannot be used is kept and marked, never retried or replayed.
    assert (broken.status, broken.error) == (WebhookEvent.Status.REJECTED, "")
    assert broken.reason.startswith("malformed body: body is not JSON")
    assert not Message.objects.exists()


def test_the_waker_sends_a_drain_task(monkeypatch):
    import threading

    from django.core.cache import cache

    from apps.inbound import tasks

    cache.delete(services.DRAIN_QUEUED_KEY)
    sent = threading.Event()
    monkeypatch.setattr("apps.core.tasks.dispatch", lambda *a, **k: sent.set())
    waker = services._Waker(interval=0.01)
    waker()
    waker()  # coalesced with the first, or sent right after it: never lost
    assert sent.wait(timeout=30)


@pytest.mark.django_db
def test_a_wake_up_sends_no_task_while_one_is_queued_and_one_again_once_it_started(monkeypatch):
    from django.core.cache import cache

    from apps.inbound import tasks

    cache.delete(services.DRAIN_QUEUED_KEY)
    sent = []
    monkeypatch.setattr("apps.core.tasks.dispatch", lambda *a, **k: sent.append(1))
    services.drain_request()
    services.drain_request()  # the first task has not started: it will take everything
    assert len(sent) == 1
    tasks.drain_webhook_events()  # it starts: a delivery stored now needs a new task
    services.drain_request()
    assert len(sent) == 2


@pytest.mark.django_db
def test_a_failed_send_does_not_silence_the_next_wake_ups(monkeypatch):
    from django.core.cache import cache

    from apps.inbound import tasks

    cache.delete(services.DRAIN_QUEUED_KEY)

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr("apps.core.tasks.dispatch", broker_down)
    services.drain_request()
    sent = []
    monkeypatch.setattr("apps.core.tasks.dispatch", lambda *a, **k: sent.append(1))
    services.drain_request()
    assert sent == [1]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("policy", ["reopen", "new"])
def test_a_batch_opens_wakes_and_reopens_conversations_as_one_message_would(number, published, policy):
    from datetime import timedelta

    from django.utils import timezone

    from apps.conversations.models import AuditLogEntry
    from apps.conversations.tests.factories import ContactFactory, ConversationFactory

    org = number.organization
    org.on_message_to_resolved = policy
    org.save(update_fields=["on_message_to_resolved"])
    C, D = "5511900000003", "5511900000004"
    snoozed = ConversationFactory(organization=org, number=number, status=Conversation.Status.SNOOZED,
                                  snoozed_until=timezone.now() + timedelta(days=1),
                                  contact=ContactFactory(organization=org, wa_id=C))
    resolved = ConversationFactory(organization=org, number=number, status=Conversation.Status.RESOLVED,
                                   resolved_at=timezone.now(), contact=ContactFactory(organization=org, wa_id=D))
    _store(number, _text("wamid.N1", A, "new customer", 1718200001), _text("wamid.N2", B, "another", 1718200002),
           _text("wamid.N3", A, "again", 1718200003))
    _store(number, _text("wamid.S1", C, "wake up", 1718200004), _text("wamid.R1", D, "back again", 1718200005))
    assert services.webhook_events_drain() == 2
    # New customers: one open conversation each, announced once as created.
    opened = {c.contact.wa_id: c for c in Conversation.objects.filter(contact__wa_id__in=[A, B])}
    assert {wa_id: (c.status, c.unread_count) for wa_id, c in opened.items()} == {A: ("open", 2), B: ("open", 1)}
    # A snoozed conversation wakes on the customer's message.
    snoozed.refresh_from_db()
    assert (snoozed.status, snoozed.snoozed_until, snoozed.unread_count) == ("open", None, 1)
    assert AuditLogEntry.objects.filter(conversation=snoozed, action="conversation.woken").count() == 1
    # A resolved one is reopened, or a new one started, as the organisation chose.
    resolved.refresh_from_db()
    active = Conversation.objects.exclude(status=Conversation.Status.RESOLVED).get(contact__wa_id=D)
    if policy == "reopen":
        assert active.pk == resolved.pk and resolved.status == "open"
    else:
        assert active.pk != resolved.pk and resolved.status == "resolved"
    assert Message.objects.get(wamid="wamid.R1").conversation_id == active.pk
    events = {(event, data["id"]) for event, data, _ in published if event.startswith("conversation.")}
    assert events == {
        ("conversation.created", opened[A].pk), ("conversation.created", opened[B].pk),
        ("conversation.updated", snoozed.pk),
        ("conversation.updated" if policy == "reopen" else "conversation.created", active.pk),
    }
    conversation_events = [data for event, data, _ in published if event.startswith("conversation.")]
    assert {data["id"]: data["status"] for data in conversation_events}[snoozed.pk] == "open"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("together", [True, False])
def test_batches_of_every_type_and_size_are_stored_without_falling_back(number, caplog, mirrored, together):
    # Falling back to one by one loses nothing, so only the log shows that a batch's
    # own path failed (e.g. the one-statement INSERT of a batch of one message).
    from apps.whatsapp.tests.utils import load_fixture

    fixtures = ["text.json", "image.json", "location.json", "contacts.json", "referral.json", "forwarded.json",
                "message_with_errors.json", "interactive_nfm_reply.json", "unknown_type.json", "reply_context.json",
                "several_messages.json"]
    for name in fixtures:
        WebhookEvent.objects.create(body=json.dumps(load_fixture(name)).encode(),
                                    signature=WebhookEvent.Signature.VALID, signed_by=_signed())
        if not together:
            assert services.webhook_events_drain() == 1
    if together:
        assert services.webhook_events_drain() == len(fixtures)
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}
    assert not [r for r in caplog.records if "one by one" in r.getMessage()]
    assert Message.objects.count() >= len(fixtures)


@pytest.mark.django_db(transaction=True)
def test_each_delivery_keeps_its_own_notes_when_a_drain_saves_them_together(number):
    from apps.messaging.models import PendingStatus
    from apps.whatsapp.tests.utils import status

    def status_delivery(wamid):
        payload = envelope(messages_change(phone_number_id=number.phone_number_id,
                                           statuses=[status(wamid, "delivered")]))
        return _row(payload)

    first, second = status_delivery("wamid.AWAY1"), status_delivery("wamid.AWAY2")
    plain = _store(number, _text("wamid.P1", A, "hello", 1718200001))
    assert services.webhook_events_drain() == 3
    for event, note in ((first, "wamid.AWAY1"), (second, "wamid.AWAY2"), (plain, None)):
        event.refresh_from_db()
        assert (event.status, event.attempts, event.number_id) == (WebhookEvent.Status.PROCESSED, 1, number.pk)
        assert event.processed_at is not None
        assert (note in event.reason) if note else event.reason == ""
    assert PendingStatus.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_drain_of_known_customers_messages_takes_a_fixed_few_statements(number, published):
    # The inbound worker's cost per drain is mostly its round trips: on PostgreSQL the
    # conversations' events come from the UPDATE's RETURNING (no read-back, no labels
    # query), the INSERT tells whether a reaction waits (none here: no reactions
    # query), and the first try takes no savepoint per batch (the drain's own one
    # undoes it all should it fail, and then it goes one by one).
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.accounts.tests.factories import UserFactory
    from apps.conversations.tests.factories import LabelFactory

    _store(number, _text("wamid.Q0", A, "first", 1718200000), _text("wamid.Q1", B, "first", 1718200000))
    services.webhook_events_drain()
    held = Conversation.objects.get(contact__wa_id=B)
    held.assignee = UserFactory(organization=number.organization)
    held.save()
    held.labels.set([LabelFactory(organization=number.organization)])
    _store(number, _text("wamid.Q2", A, "again", 1718200005))
    _store(number, _text("wamid.Q3", B, "again", 1718200006))
    with CaptureQueriesContext(connection) as queries:
        assert services.webhook_events_drain() == 2
    statements = [q["sql"].split(" ", 1)[0].upper() for q in queries.captured_queries]
    assert statements.count("SAVEPOINT") == 1
    assert len(statements) <= 11, statements
    assert not [q for q in queries.captured_queries if q["sql"].startswith("SELECT")
                and ('"conversations_conversation_labels"' in q["sql"] or '"messaging_reaction"' in q["sql"])]
    assert Conversation.objects.get(contact__wa_id=A).last_message_preview == "again"
    assert [e for e, *_ in published].count("conversation.updated") == 2


@pytest.fixture
def number_cache(settings):
    settings.INBOUND_NUMBER_CACHE_SECONDS = 60
    yield
    services.number_cache_clear()


@pytest.mark.django_db(transaction=True)
def test_drains_keep_a_number_and_its_organisation_for_a_moment(number, number_cache, settings, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def number_queries(captured):
        return [q for q in captured if '"whatsapp_whatsappnumber"' in q["sql"] and q["sql"].startswith("SELECT")]

    _store(number, _text("wamid.N1", A, "one", 1718200001))
    with CaptureQueriesContext(connection) as first:
        services.webhook_events_drain()
    _store(number, _text("wamid.N2", A, "two", 1718200002))
    with CaptureQueriesContext(connection) as second:
        services.webhook_events_drain()
    assert len(number_queries(first.captured_queries)) == 1
    assert number_queries(second.captured_queries) == []
    assert Message.objects.filter(wamid__in=["wamid.N1", "wamid.N2"]).count() == 2
    # Each drain gets its own copies: what one sets on them stays there.
    from apps.providers.meta.parser import parse_webhook

    items = [next(iter(parse_webhook(json.loads(bytes(WebhookEvent.objects.first().body)))))]
    one, _ = services._numbers_for(items, cached=True)
    one[number.phone_number_id].display_phone_number = "changed"
    one[number.phone_number_id].organization.name = "changed"
    two, _ = services._numbers_for(items, cached=True)
    assert two[number.phone_number_id].display_phone_number == number.display_phone_number
    assert two[number.phone_number_id].organization.name == number.organization.name
    # After the time given, a change is read.
    type(number.organization).objects.filter(pk=number.organization_id).update(name="Renamed")
    clock = [services.processing.time.monotonic() + 61]
    monkeypatch.setattr(services.processing.time, "monotonic", lambda: clock[0])
    three, _ = services._numbers_for(items, cached=True)
    assert three[number.phone_number_id].organization.name == "Renamed"


@pytest.mark.django_db(transaction=True)
def test_a_number_added_a_moment_ago_is_found_at_once(number_cache):
    from apps.whatsapp.tests.factories import WhatsAppNumberFactory

    unknown = _store_raw("777000", _text("wamid.U7", A, "hello?", 1718200001))
    services.webhook_events_drain()
    unknown.refresh_from_db()
    assert unknown.status == WebhookEvent.Status.UNROUTED
    added = WhatsAppNumberFactory(phone_number_id="777000")
    _store(added, _text("wamid.U8", A, "hello!", 1718200002))
    services.webhook_events_drain()
    assert Message.objects.filter(wamid="wamid.U8", number=added).exists()


def _store_raw(phone_number_id, *messages):
    payload = envelope(messages_change(phone_number_id=phone_number_id, messages=list(messages)))
    return _row(payload)


@pytest.mark.django_db(transaction=True)
def test_a_known_customers_new_profile_name_is_kept_and_shown(number, published):
    # Customers with an active conversation are read with it in one query; the name
    # WhatsApp sends still refreshes theirs, and the live event shows it.
    _store(number, _text("wamid.P1", A, "hi", 1718200001))
    services.webhook_events_drain()
    payload = envelope(messages_change(phone_number_id=number.phone_number_id, messages=[
        _text("wamid.P2", A, "it's me", 1718200002)], contacts=[{"profile": {"name": "Maria S."}, "wa_id": A}]))
    _row(payload)
    published.clear()
    services.webhook_events_drain()
    assert Contact.objects.get(wa_id=A).profile_name == "Maria S."
    assert Conversation.objects.filter(contact__wa_id=A).count() == 1
    [event] = [data for name, data, _ in published if name == "conversation.updated"]
    assert event["contact"]["profile_name"] == "Maria S."


@pytest.mark.django_db(transaction=True)
def test_a_number_deleted_and_added_again_while_cached_loses_nothing(number, number_cache):
    # The cached number's id no longer exists: the drain fails (the foreign key is
    # checked at COMMIT), clears the cache, and the next drain stores the message on
    # the new number.
    from apps.whatsapp.models import WhatsAppNumber
    from apps.whatsapp.tests.factories import WhatsAppNumberFactory

    _store(number, _text("wamid.R1", A, "before", 1718200001))
    services.webhook_events_drain_all()
    Message.objects.all().delete()
    Conversation.objects.all().delete()
    phone_number_id = number.phone_number_id
    WhatsAppNumber.objects.filter(pk=number.pk).delete()
    added = WhatsAppNumberFactory(phone_number_id=phone_number_id)
    event = _store(added, _text("wamid.R2", A, "after", 1718200002))
    try:
        services.webhook_events_drain_all()
    except Exception:  # noqa: S110 - the stale id's drain fails as a whole; the next one stores it
        pass
    services.webhook_events_drain_all()
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert Message.objects.get(wamid="wamid.R2").number_id == added.pk


@pytest.mark.django_db(transaction=True)
def test_a_failure_after_a_stored_batch_publishes_each_event_once(number, published, monkeypatch):
    # The drain's first try has no savepoint per batch: a failing status batch undoes
    # the stored messages too, and the second try (batch by batch) stores them again.
    # The first try's events go with its rollback; each event leaves once.
    from apps.messaging.services import statuses

    real, calls = statuses.statuses_apply, []

    def failing_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("status batch bug")
        return real(**kwargs)

    monkeypatch.setattr(statuses, "statuses_apply", failing_once)
    payload = envelope(messages_change(phone_number_id=number.phone_number_id, messages=[
        _text("wamid.F1", A, "one", 1718200001), _text("wamid.F2", B, "two", 1718200002)],
        statuses=[status("wamid.UNKNOWN", "delivered")]))
    _row(payload)
    assert services.webhook_events_drain() == 1
    names = [event for event, *_ in published]
    assert names.count("message.created") == 2 and names.count("conversation.created") == 2
    assert sorted(Message.objects.values_list("wamid", flat=True)) == ["wamid.F1", "wamid.F2"]
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert len(calls) == 2


@pytest.mark.django_db(transaction=True)
def test_the_sweep_runs_a_failed_delivery_whose_retry_is_overdue(number):
    """A retry task held by a crashed worker would wait for the broker's visibility
    timeout: the sweep runs the failed deliveries whose retry is long overdue."""
    from datetime import timedelta

    from django.utils import timezone

    overdue = _store(number, _text("wamid.O1", A, "lost retry", 1718200001))
    recent = _store(number, _text("wamid.O2", B, "retry on its way", 1718200002))
    WebhookEvent.objects.filter(pk=overdue.pk).update(
        status=WebhookEvent.Status.FAILED, attempts=1, processed_at=timezone.now() - timedelta(minutes=10))
    WebhookEvent.objects.filter(pk=recent.pk).update(
        status=WebhookEvent.Status.FAILED, attempts=1, processed_at=timezone.now())
    services.webhook_events_sweep()
    overdue.refresh_from_db()
    recent.refresh_from_db()
    assert (overdue.status, overdue.attempts) == (WebhookEvent.Status.PROCESSED, 2)
    assert recent.status == WebhookEvent.Status.FAILED
    assert list(Message.objects.values_list("wamid", flat=True)) == ["wamid.O1"]


def test_a_restarted_worker_runs_the_failed_deliveries_whose_retry_time_has_come(number):
    """The start sweep (a worker ready after a crash: the dead one's retry tasks are lost
    with it) runs every failed delivery whose retry time has come, without the periodic
    sweep's margin for a retry task still on its way; one not yet due waits."""
    from datetime import timedelta

    from django.utils import timezone

    due = _store(number, _text("wamid.S1", A, "retry lost with the worker", 1718200011))
    not_yet = _store(number, _text("wamid.S2", B, "retry not yet due", 1718200012))
    WebhookEvent.objects.filter(pk=due.pk).update(
        status=WebhookEvent.Status.FAILED, attempts=1, processed_at=timezone.now() - timedelta(seconds=31))
    WebhookEvent.objects.filter(pk=not_yet.pk).update(
        status=WebhookEvent.Status.FAILED, attempts=1, processed_at=timezone.now())
    services.webhook_events_sweep()  # the periodic sweep: 31 s is not overdue
    due.refresh_from_db()
    assert due.status == WebhookEvent.Status.FAILED
    services.webhook_events_sweep(at_start=True)
    due.refresh_from_db()
    not_yet.refresh_from_db()
    assert due.status == WebhookEvent.Status.PROCESSED
    assert not_yet.status == WebhookEvent.Status.FAILED
