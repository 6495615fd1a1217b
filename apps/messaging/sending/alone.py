"""A claimed message sent on its own, from the task's thread: a media message (its
file may need an upload first), or a message whose own task runs (a retry, a look
later). Its answer is stored and its error settled as a batch's are (outcome.py)."""

from __future__ import annotations

from ..models import Message
from . import claim, kick, outcome
from .pacing import db_connection_release, slot_wait
from .payload import media_upload_if_needed, meta_payload


def alone_send(message: Message, claimed_at) -> str:
    """Send `message`, claimed at `claimed_at`. Returns its outcome ("sent",
    "throttled", "retry", "interrupted", "failed", "released")."""
    from apps.media.services import MediaUnavailable
    from apps.providers.meta.client import GraphAPIError, client_for

    client = client_for(message.number)
    try:
        media = media_upload_if_needed(message)
        payload = meta_payload(message)
        db_connection_release()
        # The slot is taken last, right before the call, so that nothing slow (an
        # upload) comes between the slot and the request: only the one UPDATE that
        # records the call, which must be committed before the request goes out.
        wait = slot_wait(message)
        if wait:
            claim.messages_unclaim([message.pk], claimed_at)
            kick.message_queue(message.pk, countdown=wait)
            return "throttled"
    except (GraphAPIError, MediaUnavailable) as error:
        return outcome.failure_settle(message, error)
    except Exception as exc:  # a bug or a storage error: do not leave the claim dangling
        outcome.message_fail(message.pk, title="Send error", text=str(exc)[:1000])
        raise
    # Should this fail (the database), no call was made: the claim is given back
    # once it has expired (claim.claims_release).
    held = claim.calls_start([message.pk], claimed_at)
    db_connection_release()
    if not held:
        return "released"  # its claim was given back meanwhile: another send has it
    try:
        answer = client.send_message(payload)
    except GraphAPIError as error:
        return outcome.failure_settle(message, error)
    except Exception as exc:  # a bug: do not leave the claim dangling
        outcome.message_fail(message.pk, title="Send error", text=str(exc)[:1000])
        raise
    wamid = outcome.answer_wamid(answer)
    if not wamid:
        return outcome.failure_settle(message, None)
    return outcome.answers_store([(message, wamid, media, outcome.answer_wa_id(answer))]).get(message.pk, "sent")
