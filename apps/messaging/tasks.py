"""Messaging tasks: send messages (one, or a batch of one number's: see "batches"
below), sweep messages that never started, mark read.

Each task takes ids. The send path lives here rather than in services because its
cost per message is the product's sending throughput (docs/benchmarks.md).

Never two sends of one message. Before the call to Meta the attempt is claimed with
one conditional UPDATE (send_started_at set, send_attempts + 1, only if no attempt
is in flight and no wamid is stored); after the call the wamid is stored. Hence:
- a task delivered twice (acks_late redelivery, the sweeper, a retry) finds the
  claim or the wamid and does nothing;
- a task re-run after its worker died between claiming and storing the answer
  cannot know whether Meta accepted the message. It is NOT resent: once the claim
  is older than any run could last (`claim_expiry()`), the message is marked failed
  with the reason "interrupted" and the agent decides (the retry action resends it
  on purpose). A run that finds a younger claim checks again when it expires;
- a call that timed out waiting for Meta's answer (a read timeout) is the same
  ambiguity: Meta had the request and may have accepted it. It is marked
  interrupted too, not retried. A timeout while connecting is retried (Meta
  never had the request).
- A transient error answered by Meta means Meta did not accept the message: the
  claim is released and the send retried with backoff.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.base import Model, ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from apps.core.fields import EncryptedTextField
from apps.media.services import MediaUnavailable, media_upload_to_meta
from apps.core.tasks import dispatch
from apps.realtime import groups
from apps.realtime.publish import publish

from . import ratelimit
from .models import Direction, Message, Status
from .serializers import MessageSerializer, message_event_data

logger = logging.getLogger(__name__)

# A send slot (apps.messaging.ratelimit) up to this far ahead is reserved and slept
# for in the worker's thread; when every slot is further away the task is
# re-dispatched with a countdown instead (no attempt is counted for either).
MAX_INLINE_WAIT = 1.0
SWEEP_AFTER = timedelta(minutes=1)
INTERRUPTED_TITLE = "Send interrupted"
INTERRUPTED_TEXT = (
    "The send was interrupted after the request reached WhatsApp; it may or may not have been delivered. "
    "Check with the customer before retrying."
)


def claim_expiry() -> float:
    """Seconds after which a claim cannot belong to a running send any more: the
    slot wait, a media upload (two calls), the send call, and a margin."""
    return MAX_INLINE_WAIT + 3 * settings.GRAPH_API_TIMEOUT + 10


def _publish_updated(message: Message) -> None:
    publish("message.updated", MessageSerializer(message).data, groups=groups.conversation_groups(message.conversation))


def _backoff(attempt: int, retry_after: float | None) -> float:
    base = settings.SEND_RETRY_BASE_DELAY
    delay = base * (2 ** max(attempt - 1, 0))
    delay = min(delay, 300.0) * random.uniform(0.8, 1.2)
    return max(delay, retry_after or 0.0)


def _fail(message_id: int, *, code=None, title: str = "", text: str = "", details: str = "") -> None:
    with transaction.atomic():
        updated = Message.objects.filter(pk=message_id, status=Status.PENDING, wamid__isnull=True).update(
            status=Status.FAILED, failed_at=timezone.now(), error_code=code, error_title=title[:255],
            error_message=text, error_details=details, send_started_at=None, next_attempt_at=None,
        )
        if updated:
            message = Message.objects.select_related("conversation").get(pk=message_id)
            _publish_updated(message)


# A thread that wakes up later than this after its slot takes a new slot: sending
# late could crowd a number's next slots into the same second.
LATE_SLOT = 0.03


def _wait_for_send_slot(message: Message) -> float:
    """Reserve the message's slot under its number's and pair's limits, and sleep
    until it. 0.0 when the message may go now; else the seconds to wait before
    trying again (nothing is reserved then)."""
    for _late in range(10):
        granted, delay = ratelimit.send_reserve(message.number, message.conversation.contact.wa_id,
                                                max_wait=MAX_INLINE_WAIT)
        if not granted:
            return delay
        go_at = time.monotonic() + delay
        if delay > 0:
            time.sleep(delay)
        if time.monotonic() - go_at <= LATE_SLOT:
            break
    return 0.0


def _release_db_connection() -> None:
    """With a connection pool (DB_POOL_MAX_SIZE), give this thread's connection back
    while it waits for its slot and for Meta: a threads-pool worker then needs
    connections for its queries only, not one per thread."""
    from django.db import connection

    if (connection.settings_dict.get("OPTIONS") or {}).get("pool") and not connection.in_atomic_block:
        connection.close()


def _upload_media_if_needed(message: Message, client):
    """A media message sent from our own file: make sure Meta has it (uploaded ids
    live 30 days; apps.media reuses a fresh one and uploads again otherwise) and
    put the id in the message's content."""
    if message.type not in ("image", "video", "audio", "document", "sticker"):
        return
    from apps.media.models import Media

    media = Media.objects.filter(message=message).first()
    if media is None:
        return None  # sent by Meta id or by link
    media_id = media_upload_to_meta(media=media, number=message.number)
    content = {**(message.content or {}), "id": media_id}
    content.pop("link", None)
    if content != message.content:
        Message.objects.filter(pk=message.pk).update(content=content)
        message.content = content
    return media


def meta_payload(message: Message) -> dict:
    """The body of POST /messages for `message`."""
    payload = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.conversation.contact.wa_id,
        "type": message.type,
        message.type: message.content.get("contacts") if message.type == "contacts" else message.content,
    }
    if message.reply_to_wamid:
        payload["context"] = {"message_id": message.reply_to_wamid}
    return payload


# -- one statement that claims and loads ------------------------------------------------------
# The common case of a send: the message is pending and unclaimed. One statement claims
# it (the conditional UPDATE below) and returns it with everything the send needs: its
# number, the conversation's routing columns, the customer's wa_id and the author's
# name. Anything else (already sent, claimed, missing) falls back to the ORM path,
# which tells the cases apart.
def _claim_columns():
    from django.contrib.auth import get_user_model

    from apps.conversations.models import Contact, Conversation
    from apps.whatsapp.models import WhatsAppNumber

    def fields(model, names=None):
        concrete = model._meta.concrete_fields
        return [f for f in concrete if names is None or f.attname in names]

    return [
        ("m", Message, fields(Message)),
        ("n", WhatsAppNumber, fields(WhatsAppNumber)),
        ("c", Conversation, fields(Conversation, {"id", "organization_id", "number_id", "contact_id", "assignee_id",
                                                   "team_id"})),
        ("k", Contact, fields(Contact, {"id", "wa_id"})),
        ("u", get_user_model(), fields(get_user_model(), {"id", "username", "first_name", "last_name",
                                                           "display_name"})),
    ]


_claim_sql_cache: dict = {}
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")


def _claim_sql(connection, batch: bool = False):
    """The claim-and-load statement: of one message by id, or (`batch`) of up to n
    pending, unclaimed, non-media messages of one number that wait for no retry,
    oldest first, skipping rows another claim holds locked."""
    cached = _claim_sql_cache.get((connection.alias, batch))
    if cached is None:
        from django.contrib.auth import get_user_model

        from apps.conversations.models import Contact, Conversation
        from apps.whatsapp.models import WhatsAppNumber

        q = connection.ops.quote_name
        groups = _claim_columns()
        select = ", ".join(f"{alias}.{q(f.column)}" for alias, _model, fs in groups for f in fs)
        m = Message._meta
        claim = (
            f"UPDATE {q(m.db_table)} SET {q('send_started_at')} = %s, "
            f"{q('send_attempts')} = {q('send_attempts')} + 1, {q('next_attempt_at')} = NULL "
        )
        if batch:
            media = ", ".join(f"'{kind}'" for kind in MEDIA_TYPES)
            where = (
                f"WHERE {q('id')} IN (SELECT {q('id')} FROM {q(m.db_table)} WHERE {q('number_id')} = %s "
                f"AND {q('direction')} = %s AND {q('status')} = %s AND {q('wamid')} IS NULL "
                f"AND {q('send_started_at')} IS NULL AND {q('next_attempt_at')} IS NULL AND {q('type')} NOT IN ({media}) "
                f"AND {q('id')} <> %s ORDER BY {q('created_at')} LIMIT %s FOR UPDATE SKIP LOCKED) "
            )
        else:
            where = (
                f"WHERE {q('id')} = %s AND {q('direction')} = %s AND {q('status')} = %s AND {q('wamid')} IS NULL "
                f"AND {q('send_started_at')} IS NULL "
            )
        sql = (
            f"WITH m AS ({claim}{where}RETURNING *) "
            f"SELECT {select} FROM m "
            f"JOIN {q(WhatsAppNumber._meta.db_table)} n ON n.{q('id')} = m.{q('number_id')} "
            f"JOIN {q(Conversation._meta.db_table)} c ON c.{q('id')} = m.{q('conversation_id')} "
            f"JOIN {q(Contact._meta.db_table)} k ON k.{q('id')} = c.{q('contact_id')} "
            f"LEFT JOIN {q(get_user_model()._meta.db_table)} u ON u.{q('id')} = m.{q('author_id')}"
        )
        if batch:
            sql += f" ORDER BY m.{q('created_at')}"
        converters = []
        for _alias, model, fs in groups:
            for f in fs:
                col = f.get_col(model._meta.db_table)
                convert = connection.ops.get_db_converters(col) + f.get_db_converters(connection)
                if isinstance(f, EncryptedTextField):
                    convert = [_remembered(c) for c in convert]
                converters.append((col, convert))
        cached = _claim_sql_cache[(connection.alias, batch)] = (sql, groups, converters)
    return cached


_clear_values: dict = {}


def _remembered(convert):
    """A converter that decrypts each stored value once per process (the number's
    access token: a Fernet decryption per send was a tenth of the claim's CPU)."""

    def run(value, expression, connection):
        if not value:
            return convert(value, expression, connection)
        clear = _clear_values.get(value)
        if clear is None:
            if len(_clear_values) >= 1000:
                _clear_values.clear()
            clear = _clear_values[value] = convert(value, expression, connection)
        return clear

    return run


def _claim_and_load(message_id: int, claimed_at) -> Message | None:
    """Claim message `message_id` and load it in one statement; None when it could not
    be claimed (the caller then looks at why)."""
    from django.db import connection

    messages = _claimed(connection, False, [claimed_at, message_id, Direction.OUTBOUND, Status.PENDING])
    return messages[0] if messages else None


def _claim_batch(number_id: int, claimed_at, *, limit: int, exclude: int = 0) -> list[Message]:
    """Claim and load up to `limit` messages of number `number_id` that wait for a
    send (pending, unclaimed, no retry pending, not media; never `exclude`), oldest
    first, in one statement. Each claim is the message's attempt,
    as for a single message."""
    from django.db import connection

    if limit <= 0:
        return []
    return _claimed(connection, True, [claimed_at, number_id, Direction.OUTBOUND, Status.PENDING, exclude, limit])


def _claimed(connection, batch: bool, params: list) -> list[Message]:
    from django.db import connections

    # This thread's own connection, not django.db.connection: each attribute read
    # through that proxy looks the thread's connection up again (asgiref's Local),
    # and building a batch's instances reads it for every column converted and
    # every instance (a sixth of a worker's CPU at 1,000 sends/s).
    connection = connections[connection.alias]
    sql, groups, converters = _claim_sql(connection, batch)
    plans = _row_plans(connection, batch, groups, converters)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    shared: dict = {}  # the rows of a batch share their number: built once
    return [_message_from_row(connection, plans, row, shared) for row in rows]


_plans_cache: dict = {}


def _row_plans(connection, batch: bool, groups, converters) -> list:
    """Per model of the claim's row: its slice of the row, its field names, where its
    id is, only the columns that have converters (most have none), and whether its
    instances may be built without Model.__init__ (`_plain_attributes`)."""
    plans = _plans_cache.get((connection.alias, batch))
    if plans is None:
        plans, position = [], 0
        for alias, model, fs in groups:
            end = position + len(fs)
            names = [f.attname for f in fs]
            convert = [(i - position, col, convert_all) for i, (col, convert_all) in
                       enumerate(converters[position:end], start=position) if convert_all]
            plans.append((alias, model, position, end, names, names.index("id"), convert,
                          _plain_attributes(model, names)))
            position = end
        plans = _plans_cache[(connection.alias, batch)] = plans
    return plans


def _plain_attributes(model, names: list[str]) -> bool:
    """Whether each of `names` is stored by Model.__init__ as a plain instance
    attribute: no descriptor on the class that does more than that (a field's
    DeferredAttribute, a foreign key's id attribute on a new instance)."""
    from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
    from django.db.models.query_utils import DeferredAttribute

    for name in names:
        for klass in model.__mro__:
            if name in klass.__dict__:
                if type(klass.__dict__[name]) not in (DeferredAttribute, ForeignKeyDeferredAttribute):
                    return False
                break
    return True


def _instance(model, db: str, names: list[str], values: list, plain: bool):
    """`model.from_db(db, names, values)`. When the model's attributes are plain and
    nothing listens to its pre_init or post_init signals, the instance is built as
    Model.__init__ would leave it (the given fields set, the others deferred, a state
    loaded from `db`) without running it: a claimed batch builds five instances per
    message, and Model.__init__ was most of the claim's CPU."""
    if (not plain or pre_init.has_listeners(model) or post_init.has_listeners(model)
            or model.__init__ is not Model.__init__ or model.from_db.__func__ is not Model.from_db.__func__):
        return model.from_db(db, names, values)
    obj = model.__new__(model)
    obj.__dict__.update(zip(names, values))
    state = obj._state = ModelState()
    state.adding, state.db = False, db
    return obj


def _message_from_row(connection, plans, row, shared: dict) -> Message:
    objects = {}
    for alias, model, start, end, names, id_index, convert, plain in plans:
        raw = row[start:end]
        if alias == "n" and shared.get("raw") == raw:
            objects[alias] = shared["number"]
            continue
        if alias == "u" and raw[id_index] is None:
            objects[alias] = None
            continue
        chunk = list(raw)
        for i, col, convert_all in convert:
            value = chunk[i]
            for c in convert_all:
                value = c(value, col, connection)
            chunk[i] = value
        objects[alias] = _instance(model, connection.alias, names, chunk, plain)
        if alias == "n":
            shared["raw"], shared["number"] = raw, objects[alias]
    message, contact, conversation = objects["m"], objects["k"], objects["c"]
    # The related objects go straight into the instances' caches: the join matched
    # their ids, so the foreign key descriptors' checks (types, routers) have
    # nothing to find.
    conversation._state.fields_cache["contact"] = contact
    cache = message._state.fields_cache
    cache["conversation"], cache["number"], cache["author"] = conversation, objects["n"], objects["u"]
    return message


def _store_sent(message: Message, wamid: str, sent_at) -> bool:
    """Store the wamid and "sent" (one UPDATE). True when statuses for this wamid
    arrived before it and wait as PendingStatus rows: the same statement answers that."""
    from django.db import connection

    from .models import PendingStatus

    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {q(Message._meta.db_table)} SET {q('wamid')} = %s, {q('status')} = %s, {q('sent_at')} = %s "
            f"WHERE {q('id')} = %s AND {q('wamid')} IS NULL RETURNING EXISTS (SELECT 1 FROM "
            f"{q(PendingStatus._meta.db_table)} WHERE {q('number_id')} = %s AND {q('wamid')} = %s)",
            [wamid, Status.SENT, sent_at, message.pk, message.number_id, wamid],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def _store_sent_batch(sent: list[tuple[Message, str]], sent_at) -> dict[int, bool]:
    """Store the wamid and "sent" of several messages in one UPDATE (PostgreSQL):
    {message id: whether statuses wait for its wamid} for the rows it changed."""
    from django.db import connection

    from .models import PendingStatus

    q = connection.ops.quote_name
    values = ", ".join(["(%s::bigint, %s)"] * len(sent))
    params: list = [Status.SENT, sent_at]
    for message, wamid in sent:
        params += [message.pk, wamid]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {q(Message._meta.db_table)} AS m SET {q('wamid')} = v.wamid, {q('status')} = %s, "
            f"{q('sent_at')} = %s FROM (VALUES {values}) AS v(id, wamid) WHERE m.{q('id')} = v.id "
            f"AND m.{q('wamid')} IS NULL RETURNING m.{q('id')}, EXISTS (SELECT 1 FROM "
            f"{q(PendingStatus._meta.db_table)} p WHERE p.{q('number_id')} = m.{q('number_id')} "
            f"AND p.{q('wamid')} = v.wamid)",
            params,
        )
        return dict(cursor.fetchall())


def _settle_error(message: Message, attempt: int, error) -> str:
    """After a failed call: interrupted (Meta may have the message), a retry with
    backoff of this message alone (Meta refused it for now), or failed."""
    if error.read_timeout:
        # Meta had the request and did not answer in time: it may have accepted it.
        _fail(message.pk, title=INTERRUPTED_TITLE, text=INTERRUPTED_TEXT, details=str(error))
        return "interrupted"
    if error.retryable and attempt < settings.SEND_MAX_ATTEMPTS:
        delay = _backoff(attempt, error.retry_after)
        Message.objects.filter(pk=message.pk, wamid__isnull=True).update(
            send_started_at=None, next_attempt_at=timezone.now() + timedelta(seconds=delay)
        )
        logger.info("message %s: transient error %s, retry %d in %.1fs", message.pk, error.code, attempt, delay)
        dispatch(send_message, message.pk, countdown=delay)
        return "retry"
    _fail(message.pk, code=error.code, title=error.title or "", text=error.message, details=error.details)
    return "failed"


# -- batches (PostgreSQL with the Celery runner and Redis) ----------------------------------
# One task sends up to BATCH_SIZE messages of one number: Celery's own cost per task
# (fetching, the late-ack bookkeeping, the ack), the claim, the slot reservation and
# the stored answers are shared by the batch. Each message keeps its own attempt
# (claimed before its call, wamid stored after); errors are settled per message and
# a retry is a task of that message alone.
#
# message_send does not queue a task per message: it sets the number's "kick" key in
# Redis and queues a task only when the key was not set already. A task deletes the
# key *before* it claims, so a message whose commit found the key set is committed
# before that task's claim and is claimed by it (or, when the batch is full, by the
# task it queues next). The sweeper still finds any message no task took.
#
# A number allowed more than BATCH_RATE sends per second takes larger batches: as
# many as its slots of BATCH_SECONDS, at most MAX_BATCH_SIZE (at 1,000/s, 128): a
# batch's fixed costs (Celery's handling of the task, the claim, the reservation,
# the stored answers) were a large share of a send's CPU at such rates (batches of
# 128 instead of 64: 1,040-1,195 -> 1,350-1,636 sends/s in bench/send_throughput.py).
BATCH_SIZE = 16
BATCH_RATE = 250
BATCH_SECONDS = 0.128
MAX_BATCH_SIZE = 128
KICK_PREFIX = "send:kick:"
KICK_TTL = 10.0


def send_enqueue(message: Message) -> None:
    """On commit, make sure a send task picks `message` up (message_send's enqueue)."""
    message_id, number_id, kind = message.pk, message.number_id, message.type
    # Robust: the message is committed whatever happens here. Should the broker or
    # Redis be down, the error is logged, the caller still gets its message (an error
    # would invite sending it twice), and sweep_pending queues it later.
    transaction.on_commit(lambda: _kick(number_id, message_id=message_id, batchable=kind not in MEDIA_TYPES),
                          robust=True)


def send_kick(message: Message) -> None:
    """`send_enqueue` for a message committed already (bench, tools)."""
    _kick(message.number_id, message_id=message.pk, batchable=message.type not in MEDIA_TYPES)


def _kick(number_id: int, *, message_id: int | None = None, batchable: bool = True, countdown: float = 0.0) -> None:
    """Queue a send task for the number's pending messages unless one is queued and
    has not started yet (see above): the number's batch task (`send_pending`). A
    message that cannot go in a batch (media) gets a task of its own.

    (A kick used to queue a task of the kicked message, which took the number's
    others along. A burst of messages then queued a task each time the number's
    task started, for messages that earlier batches had mostly claimed already:
    dozens of tasks per number in the burst's first second, each claiming, and the
    number's next batch waited behind them for up to half a second.)"""
    if batchable:
        ttl_ms = int((countdown + KICK_TTL) * 1000)
        try:
            if not ratelimit.client().set(KICK_PREFIX + str(number_id), 1, nx=True, px=ttl_ms):
                return
        except Exception:  # cannot tell whether a task waits: queue one (an extra one is harmless)
            logger.warning("send kick of number %s unavailable", number_id, exc_info=True)
        dispatch(send_pending, number_id, countdown=countdown or None)
    elif message_id is None:
        dispatch(send_pending, number_id, countdown=countdown or None)
    else:
        dispatch(send_message, message_id, countdown=countdown or None)


# Number id -> its rate-limit bucket key, learnt from the numbers this process sent for.
_number_keys: dict[int, str] = {}
# Number id -> its sends per second, learnt likewise (the size of its next batches).
_number_rates: dict[int, float] = {}


def _batch_size(number_id: int, rate: float | None = None) -> int:
    """How many messages a task of number `number_id` claims at most (see above)."""
    rate = _number_rates.get(number_id) if rate is None else rate
    if not rate or rate <= BATCH_RATE:
        return BATCH_SIZE
    return max(BATCH_SIZE, min(MAX_BATCH_SIZE, int(rate * BATCH_SECONDS)))


def _kick_taken(number_id: int) -> None:
    ratelimit.client().delete(KICK_PREFIX + str(number_id))


def send_concurrency() -> int:
    """The calls to Meta a worker process has in flight at most (SEND_CONCURRENCY,
    its sender loop: apps.providers.meta.transport), so at most send_concurrency() / round
    trip sends per second."""
    return max(1, settings.SEND_CONCURRENCY)


def _unclaim(ids: list[int], claimed_at, *, next_attempt_at=None) -> None:
    """Give back claims that made no call (no attempt is counted)."""
    if ids:
        Message.objects.filter(pk__in=ids, wamid__isnull=True, send_started_at=claimed_at).update(
            send_started_at=None, send_attempts=F("send_attempts") - 1, next_attempt_at=next_attempt_at
        )


def _give_back(ids: list[int], claimed_at, number_id: int, countdown: float) -> None:
    try:
        _unclaim(ids, claimed_at)
        _kick(number_id, countdown=countdown)
    except Exception:  # the sweeper finds them
        logger.exception("could not give back the claims of %s", ids)


def _results(batch, deadline: float) -> list:
    """The batch's results once all are in, or at `deadline` (time.monotonic()): a
    call with none by then may yet reach Meta, so it counts as a read timeout."""
    from apps.providers.meta.client import GraphAPIError

    if not batch.wait(max(0.0, deadline - time.monotonic())):
        logger.error("the sender loop gave no result for some calls within the claim's time")
    return [
        GraphAPIError("No answer from the sender loop in time", retryable=True, read_timeout=True)
        if result is None else result
        for result in batch.results
    ]


def _send_batch(messages: list[Message], claimed_at, *, full: bool) -> dict[int, str]:
    """Send claimed messages of one number: their slots in one reservation, each
    call from the process's sender loop at its slot, the answers stored together.
    `full`: the claim may have left more waiting, so the next batch is queued at once."""
    from apps.providers.meta.client import GraphAPIError, client_for, sender
    from apps.providers.meta.transport import LATE

    from .services.statuses import status_apply_pending

    outcome: dict[int, str] = {}
    number = messages[0].number
    _number_keys[number.pk] = ratelimit.number_key(number)
    _number_rates[number.pk] = number.rate_limit_per_second
    size = _batch_size(number.pk)
    client = client_for(number)
    loop = sender()
    _release_db_connection()
    rounds, by_number, by_pair = [], [], []
    waiting, first = messages, True
    deadline = time.monotonic() + claim_expiry()
    for _round in range(5):
        # Slots for the messages still waiting (all of them, then those that
        # missed their slot), one reservation.
        slots = ratelimit.send_reserve_batch(
            number, [m.conversation.contact.wa_id for m in waiting], max_wait=MAX_INLINE_WAIT
        )
        began = time.monotonic()
        go = []
        for message, (granted, delay, refused_by_pair) in zip(waiting, slots):
            if granted:
                go.append((began + delay, message))
            else:
                (by_pair if refused_by_pair else by_number).append((delay, message))
        if first and full and not by_number:
            _kick_quietly(number.pk)  # more may be waiting: the next batch is claimed now
        # Each call starts at its slot in the sender loop. One the loop cannot start
        # within LATE_SLOT of its slot is not made (sent late, it could crowd the
        # number's next slots into one second): it takes a new slot with the others
        # that missed theirs, as soon as the loop has started or passed over all.
        batch = loop.schedule([(at, client.send_message_call(meta_payload(m))) for at, m in go],
                              late_after=LATE_SLOT)
        rounds.append(([m for _at, m in go], batch))
        if first and by_number:
            # The number's slots are taken for the next second: give these back and
            # queue a batch for when a whole batch fits.
            countdown = min(d for d, _ in by_number) + size / number.rate_limit_per_second
            _give_back([m.pk for _, m in by_number], claimed_at, number.pk, countdown)
            outcome.update({m.pk: "throttled" for _, m in by_number})
            by_number = []
        first = False
        decided = batch.wait_decided(max(0.0, deadline - time.monotonic()))
        waiting = [go[i][1] for i in batch.late()]  # never made: final
        if not decided or not waiting:
            break  # (not decided: the loop is stuck; what it did not start counts as unanswered below)
    by_number += [(0.0, message) for message in waiting]
    given_back = {message.pk for message in waiting}

    # The answers: the wamids are stored first (the calls were made: nothing that
    # fails after this point may lose them), then the errors and the messages that
    # got no slot are settled, each on its own.
    sent, failed = [], []
    for sent_messages, batch in rounds:
        for message, result in zip(sent_messages, _results(batch, deadline)):
            if result is LATE:
                if message.pk not in given_back:  # found late after the loop was given up on
                    by_number.append((0.0, message))
                continue
            if not isinstance(result, Exception):
                try:
                    result = client.answer(result)
                except Exception as exc:
                    result = exc
            if isinstance(result, Exception):
                failed.append((message, result))
                continue
            wamid = ((result.get("messages") or [{}])[0]).get("id")
            if wamid:
                sent.append((message, wamid))
            else:
                failed.append((message, None))
    if sent:
        with transaction.atomic():
            sent_at = timezone.now()
            stored = _store_sent_batch(sent, sent_at)
            for message, wamid in sent:
                if message.pk not in stored:
                    continue
                message.wamid, message.status, message.sent_at = wamid, Status.SENT, sent_at
                reactions: list | None = []  # none can point at a message that had no wamid
                if stored[message.pk]:
                    status_apply_pending(message=message)  # reloads the row when statuses were waiting
                    reactions = None
                publish(
                    "message.updated", message_event_data(message, reactions=reactions, media=None),
                    groups=groups.conversation_groups(message.conversation),
                )
                outcome[message.pk] = "sent"
    for message, error in failed:
        try:
            if error is None:
                _fail(message.pk, title="No message id",
                      text="WhatsApp accepted the request but returned no message id.")
                outcome[message.pk] = "failed"
            elif isinstance(error, GraphAPIError):
                outcome[message.pk] = _settle_error(message, message.send_attempts, error)
            else:
                _fail(message.pk, title="Send error", text=str(error)[:1000])
                logger.error("message %s: send error", message.pk, exc_info=error)
                outcome[message.pk] = "failed"
        except Exception:  # its claim expires: the sweeper settles it
            logger.exception("message %s: could not settle its error", message.pk)
    for delay, message in by_pair:
        # This customer had messages just before: this one alone, when its pair allows.
        try:
            _unclaim([message.pk], claimed_at, next_attempt_at=timezone.now() + timedelta(seconds=delay))
            dispatch(send_message, message.pk, countdown=delay)
        except Exception:  # the sweeper finds it
            logger.exception("message %s: could not queue it for its pair's slot", message.pk)
        outcome[message.pk] = "throttled"
    if by_number:
        outcome.update({m.pk: "throttled" for _, m in by_number})
        # When the number's slots free up for a whole batch.
        _give_back([m.pk for _, m in by_number], claimed_at, number.pk,
                   min(d for d, _ in by_number) + size / number.rate_limit_per_second)
    return outcome


def _kick_quietly(number_id: int) -> None:
    """`_kick`, its failure logged: a batch whose calls are going out must not be
    stopped by the broker (the sweeper finds what no task took)."""
    try:
        _kick(number_id)
    except Exception:
        logger.exception("could not queue the next batch of number %s", number_id)


@shared_task(name="messaging.send_pending", acks_late=True, ignore_result=True)
def send_pending(number_id: int) -> int:
    """Send a batch of the number's pending messages (queued by `_kick`). Safe to run
    twice: each message is claimed before its call."""
    if (getattr(send_pending.request, "delivery_info", None) or {}).get("redelivered"):
        _check_claims(number_id)
    _kick_taken(number_id)
    key = _number_keys.get(number_id)
    if key is not None:
        # The number's slots are taken for most of the next second already (a
        # backlog): claiming now would mostly give the claims back. Look again when
        # a batch fits.
        ahead = ratelimit.taken_ahead(key)
        if ahead > 0.75 * MAX_INLINE_WAIT:
            _kick(number_id, countdown=ahead - 0.5 * MAX_INLINE_WAIT)
            return 0
    claimed_at = timezone.now()
    size = _batch_size(number_id)
    batch = _claim_batch(number_id, claimed_at, limit=size)
    if batch:
        _send_batch(batch, claimed_at, full=len(batch) == size)
    return len(batch)


def _check_claims(number_id: int) -> None:
    """A batch task delivered again: the worker that ran it may have died holding
    claims of the number. Each message claimed and not sent gets a task of its own,
    which settles it once its claim has expired (interrupted, see the module doc)
    unless its wamid is stored by then (a live worker's batch)."""
    ids = list(
        Message.objects.filter(
            number_id=number_id, direction=Direction.OUTBOUND, status=Status.PENDING, wamid__isnull=True,
            send_started_at__isnull=False,
        ).values_list("pk", flat=True)[:1000]
    )
    for message_id in ids:
        dispatch(send_message, message_id)


@shared_task(name="messaging.send_message", acks_late=True, ignore_result=True)
def send_message(message_id: int) -> str:
    """Send one pending outbound message to Meta, and (batching) a batch of its
    number's other pending messages along with it. Safe to run twice."""
    claimed_at = timezone.now()
    first = _claim_and_load(message_id, claimed_at)
    if first is not None:
        number_id = first.number_id
    else:
        number_id = Message.objects.filter(pk=message_id).values_list("number_id", flat=True).first()
        if number_id is None:
            return "missing"
    _kick_taken(number_id)
    alone = first is None or first.type in MEDIA_TYPES
    batch = [] if alone else [first]
    limit = _batch_size(number_id, first.number.rate_limit_per_second if first is not None else None) - len(batch)
    others = _claim_batch(number_id, claimed_at, limit=limit, exclude=message_id)
    batch += others
    outcome = _send_batch(batch, claimed_at, full=len(others) == limit) if batch else {}
    if first is not None and not alone:
        return outcome.get(message_id, "sent")
    # Not claimable (sent, in flight, interrupted...) or a media message: on its own.
    return _send_one(message_id, message=first, claimed_at=claimed_at)


def _send_one(message_id: int, message: Message | None = None, claimed_at=None) -> str:
    """Send one message (claimed already when `message` is given)."""
    from apps.providers.meta.client import GraphAPIError, client_for

    from .services.statuses import status_apply_pending

    if message is None:
        claimed_at = timezone.now()
        message = _claim_and_load(message_id, claimed_at)
    if message is not None:
        attempt = message.send_attempts
        # Claimed while pending without a wamid: no reaction can point at it yet
        # (reactions are linked by wamid), and only media types have a Media row.
        reactions: list | None = []
        media = None
    else:
        message = (
            Message.objects.select_related("number", "conversation__contact", "author", "media")
            .filter(pk=message_id).first()
        )
        if message is None or message.direction != Direction.OUTBOUND:
            return "missing"
        if message.wamid or message.status != Status.PENDING:
            return "done"
        if message.send_started_at is not None:
            # Another run holds the claim, or a worker died holding it (see the module doc).
            age = (timezone.now() - message.send_started_at).total_seconds()
            if age > claim_expiry():
                _fail(message.pk, title=INTERRUPTED_TITLE, text=INTERRUPTED_TEXT)
                return "interrupted"
            # Look again once the claim has expired: done by then, or interrupted.
            dispatch(send_message, message.pk, countdown=claim_expiry() - age + 1)
            return "in_flight"

        claimed_at = timezone.now()
        claimed = Message.objects.filter(
            pk=message.pk, status=Status.PENDING, wamid__isnull=True, send_started_at__isnull=True
        ).update(send_started_at=claimed_at, send_attempts=F("send_attempts") + 1, next_attempt_at=None)
        if not claimed:
            return "in_flight"
        attempt = message.send_attempts + 1
        message.send_started_at, message.send_attempts, message.next_attempt_at = claimed_at, attempt, None
        reactions = None
        media = getattr(message, "media", None)  # select_related: None when it has none

    client = client_for(message.number)
    try:
        media = _upload_media_if_needed(message, client) or media
        payload = meta_payload(message)
        _release_db_connection()
        # The slot is taken last, right before the call, so that nothing slow (the
        # database, an upload) comes between the slot and the request.
        wait = _wait_for_send_slot(message)
        if wait:
            _unclaim([message.pk], claimed_at)
            dispatch(send_message, message.pk, countdown=wait)
            return "throttled"
        answer = client.send_message(payload)
    except GraphAPIError as error:
        return _settle_error(message, attempt, error)
    except MediaUnavailable as exc:  # the file expired or was deleted before it went out
        _fail(message.pk, title="Media unavailable", text=str(exc))
        return "failed"
    except Exception as exc:  # a bug or a storage error: do not leave the claim dangling
        _fail(message.pk, title="Send error", text=str(exc)[:1000])
        raise

    wamid = ((answer.get("messages") or [{}])[0]).get("id")
    if not wamid:
        _fail(message.pk, title="No message id", text="WhatsApp accepted the request but returned no message id.")
        return "failed"
    with transaction.atomic():
        sent_at = timezone.now()
        statuses_waiting = _store_sent(message, wamid, sent_at)
        # The claim made this run the only writer: the row is what we hold plus these.
        message.wamid, message.status, message.sent_at = wamid, Status.SENT, sent_at
        if statuses_waiting:
            status_apply_pending(message=message)  # reloads the row when statuses were waiting
            reactions = None  # reloaded: read them
        publish(
            "message.updated", message_event_data(message, reactions=reactions, media=media),
            groups=groups.conversation_groups(message.conversation),
        )
    return "sent"


@shared_task(name="messaging.sweep_pending", ignore_result=True)
def sweep_pending() -> int:
    """Re-enqueue pending outbound messages that never started (their task was
    lost) and whose retry time, if any, has passed."""
    now = timezone.now()
    ids = list(
        Message.objects.filter(
            direction=Direction.OUTBOUND, status=Status.PENDING, wamid__isnull=True, send_started_at__isnull=True,
            created_at__lt=now - SWEEP_AFTER,
        ).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=now - SWEEP_AFTER))
        .values_list("pk", flat=True)[:1000]
    )
    # Claims older than any call's timeout: the worker died mid-send; the task
    # marks them interrupted (never resends them blindly).
    stale = now - timedelta(seconds=claim_expiry())
    ids += list(
        Message.objects.filter(
            direction=Direction.OUTBOUND, status=Status.PENDING, wamid__isnull=True, send_started_at__lt=stale
        ).values_list("pk", flat=True)[:1000]
    )
    for message_id in ids:
        dispatch(send_message, message_id)
    return len(ids)


@shared_task(name="messaging.mark_read", acks_late=True, ignore_result=True)
def mark_read(number_id: int, wamid: str, typing: bool = False) -> None:
    """Tell Meta the customer's message `wamid` was read (and optionally show typing)."""
    from apps.providers.meta.client import GraphAPIError, client_for
    from apps.whatsapp.models import WhatsAppNumber

    number = WhatsAppNumber.objects.filter(pk=number_id).first()
    if number is None:
        return
    try:
        client_for(number).mark_read(wamid, typing=typing)
    except GraphAPIError as error:  # a read receipt is best effort
        logger.info("mark read of %s failed: %s", wamid, error)
