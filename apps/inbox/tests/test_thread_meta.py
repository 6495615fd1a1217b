"""The thread shows the newer shapes of Meta's messages: the business's messages sent
from the WhatsApp Business app, imported history, calls with their outcome and
duration, the answer to a call-permission request, and the ad a message came from."""

import pytest

from apps.accounts.tests.worlds import fast_passwords  # noqa: F401
from apps.inbox.presenters_meta import duration_text
from apps.messaging.models import Author, MessageType
from apps.messaging.tests.factories import MessageFactory, OutboundMessageFactory

from .helpers import partial

pytestmark = pytest.mark.django_db


def test_a_message_sent_from_the_business_app_says_so(agent_client, world):
    message = OutboundMessageFactory(
        conversation=world.mine,
        author_type=Author.BUSINESS_APP,
        status="sent",
        wamid="wamid.ECHO",
        text="Saiu para entrega",
        content={"body": "Saiu para entrega"},
    )
    html = partial(agent_client, message)
    assert (
        "Sent from the WhatsApp Business app" in html
        and "WhatsApp Business app" in html
    )
    assert 'class="message out' in html and "Imported chat history" not in html


def test_imported_history_is_marked(agent_client, world):
    html = partial(
        agent_client, MessageFactory(conversation=world.mine, imported=True, text="Oi")
    )
    assert (
        "Imported chat history" in html
        and "Sent from the WhatsApp Business app" not in html
    )


@pytest.mark.parametrize(
    ("direction", "content", "expected"),
    [
        (
            "in",
            {"outcome": "completed", "duration": 115},
            ["Incoming call", "1:55", "call-completed"],
        ),
        ("in", {"outcome": "missed"}, ["Missed call", "call-missed", "📵"]),
        ("in", {"outcome": "ringing"}, ["Incoming call", "call-ringing"]),
        (
            "out",
            {"outcome": "rejected"},
            ["The customer declined the call", "call-rejected"],
        ),
        (
            "out",
            {"outcome": "completed", "duration": 3725},
            ["Outgoing call", "1:02:05"],
        ),
    ],
)
def test_calls_show_their_outcome_and_duration(
    agent_client, world, direction, content, expected
):
    factory = MessageFactory if direction == "in" else OutboundMessageFactory
    extra = (
        {} if direction == "in" else {"author_type": Author.SYSTEM, "status": "sent"}
    )
    message = factory(
        conversation=world.mine,
        type=MessageType.CALL,
        text="",
        content=content,
        wamid=f"wacid.{direction}{content['outcome']}",
        **extra,
    )
    html = partial(agent_client, message)
    for text in expected:
        assert text in html
    assert 'data-action="reply"' not in html and 'data-action="react"' not in html  # a call is not answered so


def test_the_answer_to_a_call_permission_request(agent_client, world):
    message = MessageFactory(
        conversation=world.mine,
        type=MessageType.INTERACTIVE,
        text="",
        content={
            "type": "call_permission_reply",
            "call_permission_reply": {
                "response": "accept",
                "expiration_timestamp": 1718808800,
                "response_source": "user_action",
            },
        },
    )
    html = partial(agent_client, message)
    assert "The customer allows calls" in html and "Until" in html
    message.content["call_permission_reply"]["response"] = "reject"
    message.save(update_fields=["content"])
    assert "The customer declined calls" in partial(agent_client, message)


def test_the_ad_a_message_came_from_is_shown_with_safe_links(agent_client, world):
    message = MessageFactory(
        conversation=world.mine,
        text="Vi o anúncio",
        referral={
            "source_url": "https://fb.me/abc123",
            "source_id": "120210000000000",
            "source_type": "ad",
            "headline": "Promoção <b>de inverno</b>",
            "body": "50% off",
            "media_type": "image",
            "image_url": "javascript:alert(1)",
            "ctwa_clid": "ARAkLkA8rmlF",
        },
    )
    html = partial(agent_client, message)
    assert "Click-to-WhatsApp Ad" in html and "120210000000000" in html
    assert "Promoção &lt;b&gt;de inverno&lt;/b&gt;" in html and "50% off" in html
    assert 'href="https://fb.me/abc123"' in html and "javascript:" not in html


def test_duration_text():
    assert [duration_text(s) for s in (0, 59, 60, 3599, 3600, "x", None)] == [
        "0:00",
        "0:59",
        "1:00",
        "59:59",
        "1:00:00",
        "",
        "",
    ]


def test_calls_and_their_marks_in_brazilian_portuguese():
    from types import SimpleNamespace

    from django.utils import translation

    from apps.inbox.presenters_meta import call_view, referral_view

    with translation.override("pt-br"):
        assert (
            call_view(SimpleNamespace(direction="in", content={"outcome": "missed"}))[
                "label"
            ]
            == "Chamada perdida"
        )
        assert referral_view({"source_type": "ad"})["source"] == "Anúncio"
