"""The composer's and panels' polish: icon buttons (heroicons) with their names, an
emoji picker with search, snooze presets in the organisation's time zone, and an
opt-out confirmed before it is recorded."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import translation

from apps.accounts.tests.worlds import build_world, fast_passwords  # noqa: F401
from apps.conversations.models import Conversation
from apps.inbox.panels import snooze_presets

pytestmark = pytest.mark.django_db

TOOLS = ["Emoji", "Attach", "Location", "Buttons / list", "Contact card", "Template", "Suggest reply", "Summarise"]


@pytest.fixture
def world():
    return build_world()


def test_composer_tools_are_icons_with_their_names(client, world):
    client.force_login(world.agent)
    html = client.get(reverse("inbox:conversation", args=[world.mine.pk])).content.decode()
    toolbar = html.split('class="composer-toolbar"')[1].split("</div>")[0]
    buttons = toolbar.split("<button")[1:]
    assert len(buttons) == len(TOOLS)
    for button, name in zip(buttons, TOOLS, strict=True):
        assert 'class="icon-button"' in button and "<svg" in button and 'aria-hidden="true"' in button
        assert f'<span class="visually-hidden">{name}</span>' in button


def test_emoji_picker_searches_by_name_in_the_agents_language(client, world):
    client.force_login(world.agent)
    page = client.get(reverse("inbox:conversation", args=[world.mine.pk])).content.decode()
    assert "data-composer-emoji-search" in page and 'aria-label="thumbs up">👍</button>' in page
    url = reverse("inbox:emoji")
    found = client.get(url, {"q": "thumbs"}).content.decode()
    assert 'data-emoji="👍"' in found and 'data-emoji="👎"' in found and 'data-emoji="😀"' not in found
    assert "No emoji matches." in client.get(url, {"q": "zzzz-nothing"}).content.decode()
    client.cookies["django_language"] = "pt-br"
    heart = client.get(url, {"q": "coração vermelho"}).content.decode()
    assert 'data-emoji="❤️"' in heart
    assert client.get(url, {"q": "a\x00"}).status_code == 400


def test_snooze_presets_in_the_organisations_time_zone():
    zone = ZoneInfo("America/Sao_Paulo")
    # Tuesday 10 March 2026, 14:30 in São Paulo.
    now = datetime(2026, 3, 10, 14, 30, tzinfo=zone)
    with translation.override("en"):
        presets = {p["key"]: p["at"] for p in snooze_presets(zone=zone, now=now)}
    assert presets == {"hour": "2026-03-10T15:30-03:00", "tonight": "2026-03-10T19:00-03:00",
                       "tomorrow": "2026-03-11T09:00-03:00", "next-week": "2026-03-16T09:00-03:00"}
    late = {p["key"] for p in snooze_presets(zone=zone, now=datetime(2026, 3, 10, 21, 0, tzinfo=zone))}
    assert late == {"hour", "tomorrow", "next-week"}


def test_a_snooze_preset_snoozes_until_its_time(client, world):
    world.org.timezone = "America/Sao_Paulo"
    world.org.save()
    client.force_login(world.agent)
    panel = client.get(reverse("inbox:panel_actions", args=[world.mine.pk])).content.decode()
    assert 'data-snooze-preset="tomorrow"' in panel and "-03:00" in panel
    at = panel.split('data-snooze-preset="tomorrow"')[0].rsplit('name="snoozed_until" value="', 1)[1].split('"')[0]
    response = client.post(reverse("inbox:status", args=[world.mine.pk]), {"status": "snoozed", "snoozed_until": at},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    world.mine.refresh_from_db()
    assert world.mine.status == Conversation.Status.SNOOZED
    assert world.mine.snoozed_until.astimezone(ZoneInfo("America/Sao_Paulo")).hour == 9


def test_an_opt_out_is_confirmed_before_it_is_recorded(client, world):
    client.force_login(world.agent)
    url = reverse("inbox:contact_opt_out", args=[world.mine.pk])
    panel = client.get(reverse("inbox:panel_contact", args=[world.mine.pk])).content.decode()
    assert 'name="confirm" value="1" required' in panel
    response = client.post(url, {"opted_out": "1", "reason": "asked"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Confirm that the customer asked to receive no more messages." in response.content.decode()
    world.mine.contact.refresh_from_db()
    assert not world.mine.contact.opted_out
    response = client.post(url, {"opted_out": "1", "reason": "asked", "confirm": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    world.mine.contact.refresh_from_db()
    assert world.mine.contact.opted_out
