import pytest

from apps.whatsapp.secrets import clear_secrets_cache

PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
CUSTOMER = "5511987654321"


@pytest.fixture(autouse=True)
def _fresh_secrets():
    clear_secrets_cache()
    yield
    clear_secrets_cache()


@pytest.fixture
def number(db):
    from apps.whatsapp.tests.factories import WhatsAppNumberFactory

    return WhatsAppNumberFactory(
        phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID, display_phone_number="+1 555-078-3881"
    )


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    """POST a signed delivery and run what it enqueued on commit (the task, the
    live events), as a real request followed by its worker would."""
    from apps.whatsapp.tests.utils import post_webhook

    def deliver(payload, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post_webhook(client, payload, **kwargs)

    return deliver


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run a callable and then everything it enqueued on commit."""

    def run(func, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return func(*args, **kwargs)

    return run


@pytest.fixture
def mirrored(monkeypatch):
    """The media ids handed to the mirror task (the download itself is the media app's)."""
    from apps.media import tasks as media_tasks

    calls = []
    monkeypatch.setattr(media_tasks.mirror_media, "apply_async", lambda args=(), kwargs=None, **_: calls.append(args[0]))
    return calls
