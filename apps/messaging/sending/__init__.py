"""Sending: from a pending outbound message to Meta's answer, stored.

    claim.py    one statement claims messages (a message's own, or a batch of its
                number's waiting ones) and loads them with what their send needs
    pacing.py   the wait for a send slot; ratelimit.py, the slots' buckets in Redis
    payload.py  the body of the call, and a file's upload
    batch.py    the one send: claimed messages of a number (its batch, or a message
                on its own: media, its own retry), each call from the process's
                sender loop; a media message's file uploaded first
    outcome.py  the answers stored (one statement for any number), the errors settled
    kick.py     the tasks queued: the number's kick, a message's own task, batch sizes
    pause.py    a number Meta refuses as a whole (permissions, blocks, the spam limit):
                its sending paused, its messages waiting, its checks, its resumption
    run.py      what each task does (apps/messaging/tasks.py calls it), read receipts
    holders.py  who holds a claim: a process that claims beats in Redis; a dead
                holder's claims are settled at once, not at their expiry

Never two sends of one message. Before the call to Meta the attempt is claimed with
one conditional UPDATE (send_started_at set, send_attempts + 1, only if no attempt
is in flight and no wamid is stored); just before its request goes out the call is
recorded (call_started_at, one UPDATE per wave of a batch's calls, only while the
claim is held: claim.calls_start); after the call the wamid is stored. Hence:
- a task delivered twice (acks_late redelivery, the sweeper, a retry) finds the
  claim or the wamid and does nothing;
- a worker that died holding claims: a claim whose call was never recorded never
  reached Meta. Once it has outlived any holder (claim.unstarted_expiry()) it is
  given back (claim.claims_release: only while no call is recorded, so a holder
  still alive cannot make the call after it) and the message is sent as any other.
  When its holder is known dead (holders.py: it stopped beating) there is no wait:
  its claims are settled at once, as here and below;
- a claim whose call was recorded cannot tell whether Meta accepted the message.
  It is NOT resent: once the claim is older than any run could last
  (`claim_expiry()`), the message is marked failed with the reason "interrupted".
  Every send carries our message id in `biz_opaque_callback_data`, which Meta
  echoes in the message's statuses: the first of them settles the interrupted
  message (it takes the wamid and the status: services/statuses.py). Only a call
  Meta never had stays interrupted, and the agent decides (the retry action resends
  it on purpose). A run that finds a younger claim checks again when it expires;
- a call that timed out waiting for Meta's answer (a read timeout) is the same
  ambiguity: Meta had the request and may have accepted it. It is marked
  interrupted too, not retried, and settled by its statuses likewise. A timeout
  while connecting is retried (Meta never had the request).
- A transient error answered by Meta means Meta did not accept the message: the
  claim is released and the send retried with backoff.

Its cost per message is the product's sending throughput (docs/benchmarks.md).
"""

from .batch import send_concurrency
from .claim import claim_expiry
from .kick import send_enqueue, send_kick
from .outcome import INTERRUPTED_TITLE
from .pause import number_sending_resume, paused_numbers_check, statuses_pause
from .payload import meta_payload
from .run import message_send_out, number_batch_send, pending_sweep, read_receipt_send

__all__ = [
    "INTERRUPTED_TITLE", "claim_expiry", "message_send_out", "meta_payload", "number_batch_send",
    "number_sending_resume", "paused_numbers_check", "pending_sweep", "read_receipt_send", "send_concurrency",
    "send_enqueue", "send_kick", "statuses_pause",
]
