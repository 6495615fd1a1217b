"""The parser on the WhatsApp Business app's fields (coexistence), from recorded
payloads written from Meta's reference: smb_message_echoes, history, smb_app_state_sync."""

from datetime import UTC, datetime

from apps.providers import events as ev
from apps.providers.meta.parser import parse_webhook
from apps.whatsapp.tests.utils import envelope, load_fixture

PID = "106540352242922"
CUSTOMER = "5511987654321"


def test_echoes_are_the_business_s_messages_to_the_customer():
    text, image = parse_webhook(load_fixture("smb_message_echoes.json"))
    assert isinstance(text, ev.BusinessMessage) and isinstance(
        image, ev.BusinessMessage
    )
    assert (
        text.phone_number_id,
        text.customer_wa_id,
        text.outbound,
        text.imported,
    ) == (PID, CUSTOMER, True, False)
    assert (text.type, text.content) == (
        "text",
        {"body": "Seu pedido saiu para entrega hoje."},
    )
    assert text.timestamp == datetime.fromtimestamp(1718200100, tz=UTC)
    assert text.path == "entry[0].changes[0].message_echoes[0]"
    assert (image.type, image.content["id"], image.content["caption"]) == (
        "image",
        "1003383421387256",
        "Nota fiscal",
    )


def test_history_messages_keep_their_side_time_and_the_phone_s_status():
    items = parse_webhook(load_fixture("history.json"))
    assert [type(i) for i in items] == [ev.BusinessMessage] * 3
    assert [(i.outbound, i.imported, i.customer_wa_id) for i in items] == [
        (False, True, CUSTOMER),
        (True, True, CUSTOMER),
        (False, True, CUSTOMER),
    ]
    assert [i.timestamp for i in items] == [
        datetime.fromtimestamp(t, tz=UTC) for t in (1717000000, 1717000300, 1717000600)
    ]
    assert {i.history_status for i in items} == {"read"}
    assert items[0].chunk == {"phase": 0, "chunk_order": 1, "progress": 55}
    assert items[1].path == "entry[0].changes[0].history[0].threads[0].messages[1]"


def test_history_declined_is_kept_as_the_change_s_errors():
    (item,) = parse_webhook(load_fixture("history_declined.json"))
    assert isinstance(item, ev.ValueErrors)
    assert item.errors[0]["code"] == 2593109 and item.phone_number_id == PID


def test_address_book_changes():
    add, remove = parse_webhook(load_fixture("smb_app_state_sync.json"))
    assert (add.wa_id, add.action, add.full_name, add.first_name) == (
        CUSTOMER,
        "add",
        "Maria Souza (Loja Centro)",
        "Maria",
    )
    assert (remove.wa_id, remove.action, remove.full_name) == (
        "5521998887777",
        "remove",
        "João Pereira",
    )
    assert add.timestamp == datetime.fromtimestamp(1718200200, tz=UTC)


def test_a_bad_item_of_each_field_is_malformed_and_loses_nothing_else():
    metadata = {"display_phone_number": "15550783881", "phone_number_id": PID}
    good = {
        "from": "15550783881",
        "to": CUSTOMER,
        "id": "wamid.ok",
        "timestamp": "1718200100",
        "type": "text",
        "text": {"body": "ok"},
    }
    items = parse_webhook(
        envelope(
            {
                "field": "smb_message_echoes",
                "value": {
                    "metadata": metadata,
                    "message_echoes": [
                        {
                            "from": "15550783881",
                            "id": "wamid.no-to",
                            "timestamp": "1718200100",
                            "type": "text",
                        },
                        "x",
                        good,
                    ],
                },
            },
            {
                "field": "history",
                "value": {
                    "metadata": metadata,
                    "history": [
                        {
                            "threads": [
                                {
                                    "id": CUSTOMER,
                                    "messages": [{"from": CUSTOMER, "type": "text"}],
                                }
                            ]
                        }
                    ],
                },
            },
            {
                "field": "smb_app_state_sync",
                "value": {
                    "metadata": metadata,
                    "state_sync": [
                        {
                            "type": "contact",
                            "contact": {"full_name": "No phone"},
                            "action": "add",
                        },
                        {
                            "type": "contact",
                            "contact": {"phone_number": "+55 11 98765-4321"},
                            "action": "ADD",
                        },
                    ],
                },
            },
        )
    )
    assert [type(i).__name__ for i in items] == [
        "Malformed",
        "Malformed",
        "BusinessMessage",
        "Malformed",
        "Malformed",
        "AddressBookChange",
    ]
    assert items[2].wamid == "wamid.ok"
    assert (items[5].wa_id, items[5].action) == (CUSTOMER, "add")
