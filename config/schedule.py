"""The tasks' queues and beat's periodic tasks (read by config/settings.py).

Inbound deliveries and sending have workers of their own (Procfile: worker-inbound,
worker-send); media, the bot and the rest are the default worker's."""

from config.env import env

CELERY_TASK_ROUTES = {
    "inbound.process_webhook_event": {"queue": "inbound"},
    "inbound.drain_webhook_events": {"queue": "inbound"},
    "inbound.sweep_webhook_events": {"queue": "inbound"},
    "messaging.send_message": {"queue": "outbound"},
    "messaging.send_pending": {"queue": "outbound"},
    # On the send workers' queue: it runs only while a send worker runs, and finds a
    # dead worker's sending within seconds (apps/messaging/sending/run.pending_sweep).
    "messaging.sweep_pending": {"queue": "outbound"},
    "media.*": {"queue": "media"},
    "bot.*": {"queue": "bot"},
}
SEND_SWEEP_SECONDS = float(env("SEND_SWEEP_SECONDS", "2"))
NUMBER_STATUS_READ_SECONDS = float(env("NUMBER_STATUS_READ_SECONDS", "3600"))
CELERY_BEAT_SCHEDULE = {
    "media-retention": {"task": "media.expire_retained_media", "schedule": 3600.0},
    "messaging-sweep-pending": {"task": "messaging.sweep_pending", "schedule": SEND_SWEEP_SECONDS},
    "messaging-check-paused-numbers": {"task": "messaging.check_paused_numbers", "schedule": 60.0},
    "inbound-sweep-webhook-events": {"task": "inbound.sweep_webhook_events", "schedule": 30.0},
    "inbound-prune-webhook-events": {"task": "inbound.prune_webhook_events", "schedule": 3600.0},
    "messaging-reconcile-pending-statuses": {"task": "messaging.reconcile_pending_statuses", "schedule": 60.0},
    "templates-sync": {"task": "message_templates.sync_templates", "schedule": 6 * 3600.0},
    "conversations-wake-snoozed": {"task": "conversations.wake_snoozed", "schedule": 60.0},
    "reports-refresh-rollups": {"task": "reports.refresh_rollups", "schedule": 300.0},
    "whatsapp-read-numbers-status": {"task": "whatsapp.read_numbers_status", "schedule": NUMBER_STATUS_READ_SECONDS},
}
# A periodic task not started by its next run is dropped (expires): while a queue's
# worker is stopped, beat's runs wait in the broker, and the worker that comes back
# runs one, not one per missed interval.
for _entry in CELERY_BEAT_SCHEDULE.values():
    _entry.setdefault("options", {}).setdefault("expires", _entry["schedule"])
