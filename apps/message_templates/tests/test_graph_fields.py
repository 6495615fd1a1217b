"""Meta's template list (a recorded page) read into our fields, and the
authentication template it describes rendered the way WhatsApp shows it."""

import json
from pathlib import Path

from apps.message_templates.models import MessageTemplate
from apps.message_templates.render import template_render
from apps.message_templates.services import _from_graph

PAGE = json.loads((Path(__file__).parent / "fixtures" / "template_list_page.json").read_text())


def test_every_field_of_metas_list_is_read():
    rows = [_from_graph(item) for item in PAGE["data"]]
    assert [(r["meta_id"], r["status"], r["category"], r["quality"], r["rejection_reason"], r["parameter_format"])
            for r in rows] == [
        ("1386454729087051", "APPROVED", "UTILITY", "GREEN", "", "POSITIONAL"),
        ("1386454729087052", "REJECTED", "MARKETING", "", "PROMOTIONAL", "NAMED"),
        ("1386454729087053", "PAUSED", "AUTHENTICATION", "RED", "", "POSITIONAL"),
    ]
    assert rows[0]["components"] == PAGE["data"][0]["components"]


def test_listed_templates_render():
    shipped, sale, login = (MessageTemplate(name=i["name"], language=i["language"], **_from_graph(i))
                            for i in PAGE["data"])
    assert template_render(template=shipped, parameters={
        "header": {"id": "555"}, "body": ["Ann", "A-42"], "buttons": ["A42"]}).text == (
        "[image]\n\nHi Ann, order A-42 has shipped.\n\nShop Ltd\n\n[Track]")
    assert template_render(template=sale, parameters={"body": {"first_name": "Bo", "code": "X1"},
                                                      "buttons": {"0": "X1"}}).body == "Hello Bo, use X1 today."
    rendered = template_render(template=login, parameters={"buttons": {"0": "123456"}})
    assert rendered.body == "*123456* is your verification code. For your security, do not share this code."
    assert rendered.footer == "This code expires in 10 minutes."
    assert rendered.components[-1] == {"type": "button", "sub_type": "url", "index": "0",
                                       "parameters": [{"type": "text", "text": "123456"}]}
