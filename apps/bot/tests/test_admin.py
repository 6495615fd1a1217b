"""The bot's admin pages: the notice without a key, validation, uploads, read-only usage."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.accounts.tests.worlds import build_world, fast_passwords  # noqa: F401
from apps.bot.models import (
    BotRun,
    BotSettings,
    BotUsage,
    KnowledgeDocument,
    KnowledgePassage,
)
from apps.bot.tests.factories import BotSettingsFactory
from apps.bot.tests.helpers import make_pdf

pytestmark = pytest.mark.django_db

NOTICE = "The bot is off: it needs an OpenAI API key."


@pytest.fixture
def world():
    return build_world()


@pytest.fixture
def admin_client(world):
    client = Client()
    client.force_login(world.admin)
    return client


def settings_form(world, **changes):
    data = {
        "organization": world.org.pk, "number": "", "enabled": "on", "model": "", "api_key": "",
        "system_prompt": "Be nice.", "temperature": "0.3", "max_reply_tokens": "600", "context_messages": "20",
        "business_hours": "mon-fri 09:00-18:00", "hours_mode": "always", "welcome_message": "",
        "handoff_message": "A person will help.", "fallback_message": "Sorry.",
        "handoff_keywords": '["humano", "agent"]', "sensitive_topics": "[]", "max_turns_without_progress": "3",
        "create_quote_team": "", "order_status_team": "", "talk_to_human_team": "", "search_language": "english",
        "passages_per_answer": "4",
    }
    data.update(changes)
    return data


def test_settings_pages_say_what_the_bot_needs_without_a_key(admin_client, world, settings):
    settings.OPENAI_API_KEY = None
    row = BotSettingsFactory(organization=world.org)
    for url in ("/admin/bot/botsettings/", "/admin/bot/botsettings/add/", f"/admin/bot/botsettings/{row.pk}/change/"):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert NOTICE in response.content.decode(), url
    assert "missing: the bot is off" in admin_client.get("/admin/bot/botsettings/").content.decode()


def test_no_notice_with_a_key(admin_client, world, settings):
    settings.OPENAI_API_KEY = "sk-x"
    assert NOTICE not in admin_client.get("/admin/bot/botsettings/").content.decode()
    settings.OPENAI_API_KEY = None
    row = BotSettingsFactory(organization=world.org, api_key="sk-organisation")
    assert NOTICE not in admin_client.get(f"/admin/bot/botsettings/{row.pk}/change/").content.decode()


def test_settings_saved_with_an_encrypted_key(admin_client, world):
    response = admin_client.post("/admin/bot/botsettings/add/", settings_form(world, api_key="sk-secret-123"))
    assert response.status_code == 302, response.content.decode()[:2000]
    row = BotSettings.objects.get(organization=world.org)
    assert row.api_key == "sk-secret-123"
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM bot_botsettings WHERE id = %s", [row.pk])
        assert "sk-secret-123" not in cursor.fetchone()[0]
    page = admin_client.get(f"/admin/bot/botsettings/{row.pk}/change/").content.decode()
    assert "sk-secret-123" not in page
    # Saving again with the key left empty keeps it.
    admin_client.post(f"/admin/bot/botsettings/{row.pk}/change/", settings_form(world))
    row.refresh_from_db()
    assert row.api_key == "sk-secret-123"


@pytest.mark.parametrize(("field", "value", "error"), [
    ("business_hours", "weekdays 9-6", "“weekdays” is not a weekday"),
    ("business_hours", "mon-fri", "should look like"),
    ("business_hours", "mon-fri 18:00-09:00", "ends before it starts"),
    ("handoff_keywords", '"humano"', "Give a list of words or phrases"),
    ("temperature", "3", "between 0 and 2"),
])
def test_settings_validation_names_the_field(admin_client, world, field, value, error):
    response = admin_client.post("/admin/bot/botsettings/add/", settings_form(world, **{field: value}))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert error in " ".join(form.errors[field])
    assert not BotSettings.objects.exists()


def test_another_organisations_team_is_refused(admin_client, world):
    response = admin_client.post("/admin/bot/botsettings/add/",
                                 settings_form(world, create_quote_team=world.foreign_team.pk))
    assert response.status_code == 200
    assert "create_quote_team" in response.context["adminform"].form.errors
    assert not BotSettings.objects.exists()


def test_the_bot_is_not_turned_on_without_an_ai_to_answer(admin_client, world, settings):
    """Turned on with no API key (the organisation's or OPENAI_API_KEY) the customer
    would get nothing: the form says why and nothing is saved."""
    settings.OPENAI_API_KEY = ""
    response = admin_client.post("/admin/bot/botsettings/add/", settings_form(world))
    assert response.status_code == 200
    assert "OPENAI_API_KEY" in " ".join(response.context["adminform"].form.errors["enabled"])
    assert not BotSettings.objects.exists()
    # Off, the settings are saved without a key; on, with one.
    assert admin_client.post("/admin/bot/botsettings/add/", settings_form(world, enabled="")).status_code == 302
    row = BotSettings.objects.get()
    url = f"/admin/bot/botsettings/{row.pk}/change/"
    assert admin_client.post(url, settings_form(world)).status_code == 200
    assert admin_client.post(url, settings_form(world, api_key="sk-organisation")).status_code == 302
    row.refresh_from_db()
    assert (row.enabled, row.api_key) == (True, "sk-organisation")
    # Removing the key while it stays on is refused too.
    response = admin_client.post(url, settings_form(world, clear_api_key="on"))
    assert "enabled" in response.context["adminform"].form.errors
    row.refresh_from_db()
    assert (row.enabled, row.api_key) == (True, "sk-organisation")


def test_the_bot_is_turned_on_with_the_environments_key(admin_client, world, settings):
    settings.OPENAI_API_KEY = "sk-environment"
    assert admin_client.post("/admin/bot/botsettings/add/", settings_form(world)).status_code == 302
    assert BotSettings.objects.get().enabled is True


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("hours.txt", "We open at 7 am.".encode(), "We open at 7 am."),
    ("faq.md", "# Delivery\n\nWe deliver within 5 km.".encode(), "We deliver within 5 km."),
    ("hours.pdf", make_pdf(["We close at 7 pm."]), "We close at 7 pm."),
])
def test_documents_are_uploaded_and_indexed(admin_client, world, name, data, expected):
    upload = SimpleUploadedFile(name, data)
    response = admin_client.post("/admin/bot/knowledgedocument/add/",
                                 {"organization": world.org.pk, "title": "Info", "file": upload, "text": ""})
    assert response.status_code == 302, response.content.decode()[:3000]
    document = KnowledgeDocument.objects.get()
    assert expected in document.text
    assert document.kind == {"txt": "text", "md": "markdown", "pdf": "pdf"}[name.rsplit(".", 1)[1]]
    assert expected in KnowledgePassage.objects.get(document=document).text


def test_a_bad_upload_is_refused_and_nothing_stored(admin_client, world):
    upload = SimpleUploadedFile("scan.pdf", b"%PDF-1.4 broken")
    response = admin_client.post("/admin/bot/knowledgedocument/add/",
                                 {"organization": world.org.pk, "title": "Scan", "file": upload, "text": ""})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["file"]
    assert not KnowledgeDocument.objects.exists()


def test_usage_is_read_only_and_scoped(admin_client, world):
    import datetime

    BotUsage.objects.create(organization=world.org, day=datetime.date(2026, 1, 2), requests=7, prompt_tokens=900,
                            completion_tokens=80, failures=1)
    BotUsage.objects.create(organization=world.foreign_org, day=datetime.date(2026, 1, 2), requests=555)
    page = admin_client.get("/admin/bot/botusage/")
    assert page.status_code == 200
    assert ">7<" in page.content.decode() and ">555<" not in page.content.decode()
    assert admin_client.get("/admin/bot/botusage/add/").status_code == 403
    foreign = BotUsage.objects.get(organization=world.foreign_org)
    assert admin_client.get(f"/admin/bot/botusage/{foreign.pk}/change/").status_code == 404
    assert admin_client.get("/admin/bot/botrun/").status_code == 200
    assert not BotRun.objects.exists()


def test_reindex_action_rebuilds_the_passages(admin_client, world):
    document = KnowledgeDocument.objects.create(organization=world.org, title="Info", text="We open at 7 am.")
    assert not KnowledgePassage.objects.exists()
    response = admin_client.post("/admin/bot/knowledgedocument/",
                                 {"action": "reindex", "_selected_action": [document.pk]})
    assert response.status_code == 302
    assert list(KnowledgePassage.objects.values_list("text", flat=True)) == ["We open at 7 am."]
