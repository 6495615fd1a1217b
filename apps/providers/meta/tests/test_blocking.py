"""The Block Users API's requests and answers, against Meta's documented payloads
(fixtures/block_users_*.json). The same calls run against the simulator over HTTP in
apps/conversations/tests/test_blocking.py."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from apps.providers.meta import blocking
from apps.providers.meta.client import GraphAPIError

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


class Client:
    """Records the calls `blocking` makes and answers with a fixture."""

    def __init__(self, answer=None, status=200):
        self.number = SimpleNamespace(phone_number_id="106540352242922")
        self.answer, self.status, self.calls = answer or {}, status, []

    def call(self, method, *segments, json=None, params=None):
        self.calls.append((method, segments, json, params))
        if self.status >= 400:
            body = self.answer
            raise GraphAPIError.from_response(
                SimpleNamespace(status_code=self.status, headers={}, json=lambda: body)
            )
        return self.answer


def test_block_posts_phone_and_user_ids_and_reads_the_added_users():
    client = Client(fixture("block_users_added"))
    added = blocking.block(
        client,
        [
            blocking.BlockTarget(wa_id="16505551234"),
            blocking.BlockTarget(user_id="US.13491208655302741918"),
        ],
    )
    assert client.calls == [
        (
            "POST",
            ("106540352242922", "block_users"),
            {
                "messaging_product": "whatsapp",
                "block_users": [
                    {"user": "16505551234"},
                    {"user_id": "US.13491208655302741918"},
                ],
            },
            None,
        )
    ]
    assert added == (blocking.BlockedUser(input="16505551234", wa_id="16505551234"),)


def test_unblock_deletes_and_reads_the_removed_users():
    client = Client(fixture("block_users_removed"))
    removed = blocking.unblock(client, [blocking.BlockTarget(wa_id="16505551234")])
    assert client.calls[0][0:2] == ("DELETE", ("106540352242922", "block_users"))
    assert [u.wa_id or u.user_id for u in removed] == [
        "16505551234",
        "US.13491208655302741918",
    ]


def test_a_failed_block_is_a_graph_error_139100_with_its_details():
    client = Client(fixture("block_users_failed"), status=400)
    with pytest.raises(GraphAPIError) as caught:
        blocking.block(client, [blocking.BlockTarget(wa_id="16505556789")])
    error = caught.value
    assert (error.code, error.retryable, error.token_error, error.pauses_number) == (
        139100,
        False,
        False,
        False,
    )
    assert "see the block_users response list" in error.details
    assert error.title == "Failed to block or unblock some or all of the users"


def test_a_failed_block_names_each_refused_user_with_meta_s_reason():
    client = Client(fixture("block_users_failed"), status=400)
    with pytest.raises(GraphAPIError) as caught:
        blocking.block(client, [blocking.BlockTarget(wa_id="16505551234"), blocking.BlockTarget(wa_id="16505556789")])
    assert blocking.refused_users(caught.value) == (
        blocking.RefusedUser(
            input="16505556789", code=139100, message="Failed to block user",
            details="Users can only be blocked if they have sent a message to the business in the last 24 hours.",
        ),
    )
    # The users Meta did block in the same call are named too.
    assert blocking.done_users(caught.value) == (blocking.BlockedUser(input="16505551234", wa_id="16505551234"),)


def test_an_error_without_a_user_list_names_no_user():
    body = fixture("block_users_limit")
    with pytest.raises(GraphAPIError) as caught:
        blocking.block(Client(body, status=400), [blocking.BlockTarget(wa_id="16505551234")])
    assert blocking.refused_users(caught.value) == () and blocking.done_users(caught.value) == ()
    # Nor does anything malformed in the list.
    caught.value.answer = {"block_users": {"failed_users": ["x", {"errors": "y"}, {"input": 5, "errors": [7]}]}}
    assert blocking.refused_users(caught.value) == (
        blocking.RefusedUser(input="5", code=None, message="", details=""),
    )


@pytest.mark.parametrize(
    "code, retryable", [(139101, False), (139102, True), (139103, True)]
)
def test_blocklist_errors_are_classified(code, retryable):
    body = fixture("block_users_limit")
    body["error"]["code"] = code
    with pytest.raises(GraphAPIError) as caught:
        blocking.block(
            Client(body, status=400), [blocking.BlockTarget(wa_id="16505551234")]
        )
    assert (caught.value.code, caught.value.retryable) == (code, retryable)


def test_the_list_reads_a_page_and_the_cursor_of_the_next():
    client = Client(fixture("block_users_list"))
    page = blocking.blocked(client, limit=2)
    assert client.calls == [
        ("GET", ("106540352242922", "block_users"), None, {"limit": 2})
    ]
    assert [(u.wa_id, u.user_id) for u in page.users] == [
        ("16505551234", ""),
        ("", "US.13491208655302741918"),
    ]
    assert page.after == "I6IjE3Mzc1ODA5MjUwMTk0NTIifQZDZD"


def test_the_last_page_has_no_cursor():
    answer = fixture("block_users_list")
    del answer["paging"]["next"]
    assert blocking.blocked(Client(answer), after="abc").after == ""


@pytest.mark.parametrize("count", [0, blocking.MAX_PER_CALL + 1])
def test_between_one_and_a_thousand_users_per_call(count):
    client = Client()
    with pytest.raises(GraphAPIError):
        blocking.block(
            client,
            [blocking.BlockTarget(wa_id=str(16505550000 + i)) for i in range(count)],
        )
    assert client.calls == []
