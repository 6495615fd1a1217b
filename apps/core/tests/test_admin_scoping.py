"""Every admin page an organisation's admin can open keeps the other organisations out:
the add and change forms with another organisation's id in the query string or the
POST, the autocomplete endpoint, the list filters and the inlines.

The test walks `admin.site._registry`, so a model admin added later is checked too; a
relation to a model the world below has no foreign row of fails the test, so that the
world grows with the models."""

from __future__ import annotations

import datetime
import json
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from django.apps import apps as django_apps
from django.contrib import admin
from django.forms.models import model_to_dict
from django.test import Client, RequestFactory

from apps.accounts.models import Organization
from apps.accounts.tests.factories import AdminFactory, OrganizationFactory, TeamFactory, UserFactory
from apps.accounts.tests.worlds import fast_passwords  # noqa: F401
from apps.bot.models import BotRun, BotUsage, KnowledgeDocument
from apps.bot.tests.factories import BotSettingsFactory, KnowledgeFAQFactory
from apps.conversations.models import AuditLogEntry
from apps.conversations.tests.factories import (
    CannedResponseFactory,
    ContactFactory,
    ConversationFactory,
    LabelFactory,
    NoteFactory,
)
from apps.media.tests.factories import MediaFactory
from apps.notifications.models import Notification, NotificationRule
from apps.message_templates.tests.factories import MessageTemplateFactory
from apps.messaging.models import PendingStatus, Reaction
from apps.messaging.tests.factories import MessageFactory
from apps.inbound.models import AccountEvent, WebhookEvent
from apps.reports.models import PricingRate
from apps.whatsapp.models import AccountAlert
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

pytestmark = pytest.mark.django_db

HOME, FOREIGN = "quokka", "zanzibar"
# Relations to rows that are not any organisation's data.
NOT_TENANT_DATA = {"auth.Group", "auth.Permission", "contenttypes.ContentType"}


def tenant(mark: str) -> dict:
    """One row of every model the admin shows, in a new organisation, each with `mark`
    in the text that names it."""
    org = OrganizationFactory(name=f"{mark.title()} Organisation", slug=f"{mark}-org")
    number = WhatsAppNumberFactory(organization=org, name=f"{mark} line")
    user = UserFactory(organization=org, username=f"{mark}_agent", first_name=mark)
    team = TeamFactory(organization=org, name=f"{mark} team", members=[user], numbers=[number])
    contact = ContactFactory(organization=org, name=f"{mark} contact", profile_name=f"{mark} profile")
    label = LabelFactory(organization=org, name=f"{mark} label")
    conversation = ConversationFactory(organization=org, number=number, contact=contact, assignee=user, team=team)
    conversation.labels.add(label)
    message = MessageFactory(conversation=conversation, text=f"{mark} text", wamid=f"wamid.{mark}.1")
    template = MessageTemplateFactory(organization=org, waba_id=number.waba_id, name=f"{mark}_template")
    rule = NotificationRule.objects.create(organization=org, event_type=f"{mark}-shipped", number=number,
                                           template=template)
    webhook_event = WebhookEvent.objects.create(organization=org, number=number, body=b"{}", signature="valid",
                                                reason=f"{mark} delivery")
    rows = {
        "accounts.Organization": org, "accounts.User": user, "accounts.Team": team,
        "whatsapp.WhatsAppNumber": number, "inbound.WebhookEvent": webhook_event,
        "inbound.AccountEvent": AccountEvent.objects.create(
            organization=org, number=number, waba_id=number.waba_id, field="account_update",
            event=f"{mark}_event", webhook_event=webhook_event),
        "whatsapp.AccountAlert": AccountAlert.objects.create(
            organization=org, number=number, waba_id=number.waba_id, field="security", event=f"{mark}_event",
            severity="warning", summary=f"{mark} alert", key=f"{mark}-alert", dismissed_by=user),
        "conversations.Contact": contact, "conversations.Label": label,
        "conversations.Conversation": conversation,
        "conversations.Note": NoteFactory(conversation=conversation, author=user, body=f"{mark} note"),
        "conversations.CannedResponse": CannedResponseFactory(organization=org, shortcut=f"{mark}hello"),
        "conversations.AuditLogEntry": AuditLogEntry.objects.create(
            organization=org, action=f"{mark}.assigned", actor=user, conversation=conversation),
        "messaging.Message": message,
        "messaging.Reaction": Reaction.objects.create(
            organization=org, number=number, message=message, target_wamid=message.wamid, direction="in",
            reactor="5511999990000", emoji="+"),
        "messaging.PendingStatus": PendingStatus.objects.create(
            organization=org, number=number, wamid=f"wamid.{mark}.2", status="delivered", payload={}),
        "media.Media": MediaFactory(message=message, filename=f"{mark}.jpg"),
        "message_templates.MessageTemplate": template,
        "notifications.NotificationRule": rule,
        "notifications.Notification": Notification.objects.create(
            organization=org, rule=rule, event_type=rule.event_type, idempotency_key=f"{mark}-1",
            phone="+5511999990000", message=message, created_by=user),
        "bot.BotSettings": BotSettingsFactory(organization=org, system_prompt=f"{mark} prompt", api_key="sk-bot-key"),
        "bot.KnowledgeDocument": KnowledgeDocument.objects.create(organization=org, title=f"{mark} document",
                                                                  text=f"{mark} text", kind="text"),
        "bot.KnowledgeFAQ": KnowledgeFAQFactory(organization=org, question=f"{mark} question?"),
        "bot.BotUsage": BotUsage.objects.create(organization=org, day=datetime.date(2026, 1, 2)),
        "bot.BotRun": BotRun.objects.create(organization=org, conversation=conversation, message=message),
        "reports.PricingRate": PricingRate.objects.create(organization=org, market="55", category=f"{mark}_marketing",
                                                          price="0.0625"),
    }
    try:
        api_token = django_apps.get_model("accounts", "ApiToken")
    except LookupError:
        api_token = None
    if api_token is not None:
        rows["accounts.ApiToken"] = api_token.objects.create(user=user, name=f"{mark} token", prefix=mark[:8],
                                                             key_hash="0" * 64)
    return rows


@pytest.fixture
def world():
    home, foreign = tenant(HOME), tenant(FOREIGN)
    org_admin = AdminFactory(organization=home["accounts.Organization"], username=f"{HOME}_admin", is_staff=True)
    client = Client(raise_request_exception=False)
    client.force_login(org_admin)
    return home, foreign, org_admin, client


def relations(model):
    """The model's own foreign keys and many-to-many fields."""
    return [f for f in model._meta.get_fields()
            if f.is_relation and f.concrete and (f.many_to_one or f.one_to_one or f.many_to_many)]


def leaked(response, foreign: dict) -> list[str]:
    """The other organisation's identifying text found in the page: the mark in every
    name, the number's ids, the contact's WhatsApp id."""
    body = response.content.decode().lower()
    number, contact = foreign["whatsapp.WhatsAppNumber"], foreign["conversations.Contact"]
    texts = [FOREIGN, number.phone_number_id, number.waba_id, number.display_phone_number, contact.wa_id]
    return [text for text in texts if text.lower() in body]


def url(model, view, *args):
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    return base + "".join(f"{arg}/" for arg in args) + (f"{view}/" if view else "")


def as_request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


class _FormReader(HTMLParser):
    """The values a browser would post from the page's change form."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select = None
        self._textarea = None
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id", "").endswith("_form"):
            self._in_form = True
        if not self._in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "file") or (kind in ("checkbox", "radio") and "checked" not in attrs):
                return
            self.data.setdefault(name, []).append(attrs.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in attrs:
            self.data[self._select].append(attrs.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][0] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            if self._textarea:
                self.data[self._textarea][0] = self.data[self._textarea][0].removeprefix("\n")
            self._textarea = None
        elif tag == "form":
            self._in_form = False


def form_data(response) -> dict[str, list[str]]:
    reader = _FormReader()
    reader.feed(response.content.decode())
    return reader.data


def snapshot(instance) -> dict:
    instance = type(instance)._default_manager.get(pk=instance.pk)
    data = model_to_dict(instance)
    many = {field.name for field in instance._meta.many_to_many}
    return {key: (sorted(v.pk for v in value) if key in many else value) for key, value in data.items()}


def org_admin_admins(org_admin):
    request = as_request(org_admin)
    for model, model_admin in admin.site._registry.items():
        if model_admin.has_module_permission(request) and model_admin.has_view_permission(request):
            yield model, model_admin


def test_the_world_holds_a_foreign_row_for_every_relation_an_org_admin_can_reach(world):
    home, foreign, org_admin, _client = world
    opened = list(org_admin_admins(org_admin))
    assert len(opened) >= 20
    for model, _model_admin in opened:
        assert model._meta.label in home, model._meta.label
        for field in relations(model):
            label = field.related_model._meta.label
            assert label in foreign or label in NOT_TENANT_DATA, f"{model._meta.label}.{field.name} -> {label}"


def test_admins_an_org_admin_cannot_open_are_refused(world):
    home, foreign, org_admin, client = world
    opened = {model for model, _ in org_admin_admins(org_admin)}
    for model in admin.site._registry:
        if model in opened:
            continue
        for page in (url(model, ""), url(model, "add")):
            response = client.get(page)
            assert response.status_code in (403, 404), page
            assert leaked(response, foreign) == [], page


def _errors_of(response, field_name) -> list[str]:
    form = response.context["adminform"].form if response.context else None
    return [e.code for e in form.errors.as_data().get(field_name, [])] if form is not None else []


def test_add_forms_ignore_and_refuse_another_organisations_ids(world):
    home, foreign, org_admin, client = world
    request = as_request(org_admin)
    problems, checked = [], 0
    for model, model_admin in org_admin_admins(org_admin):
        if not model_admin.has_add_permission(request):
            if client.get(url(model, "add")).status_code != 403:
                problems.append((model._meta.label, "add page open"))
            continue
        for field in relations(model):
            target = foreign.get(field.related_model._meta.label)
            if target is None:
                continue
            where = f"{model._meta.label}.{field.name}"
            response = client.get(url(model, "add") + "?" + urlencode({field.name: target.pk}))
            if response.status_code != 200:
                problems.append((where, "GET", response.status_code))
                continue
            if leaked(response, foreign):
                problems.append((where, "GET names", leaked(response, foreign)))
            initial = response.context["adminform"].form.initial.get(field.name)
            if initial not in (None, [], home["accounts.Organization"].pk):
                problems.append((where, "GET presets", initial))
            before = model._default_manager.count()
            response = client.post(url(model, "add"), {field.name: [target.pk] if field.many_to_many else target.pk})
            if response.status_code != 200 or leaked(response, foreign):
                problems.append((where, "POST", response.status_code, leaked(response, foreign)))
            elif field.name in response.context["adminform"].form.fields \
                    and _errors_of(response, field.name) != ["invalid_choice"]:
                problems.append((where, "POST accepted", _errors_of(response, field.name)))
            if model._default_manager.count() != before:
                problems.append((where, "POST created a row"))
            checked += 1
    assert problems == [], "\n".join(map(str, problems))
    assert checked >= 15


def test_change_forms_refuse_another_organisations_ids_and_change_nothing(world):
    home, foreign, org_admin, client = world
    request = as_request(org_admin)
    problems, checked = [], 0
    for model, model_admin in org_admin_admins(org_admin):
        label = model._meta.label
        own = home[label]
        # Another organisation's row is not found, whatever the page.
        for view in ("change", "delete", "history"):
            other = client.get(url(model, view, foreign[label].pk))
            if other.status_code not in (403, 404) or leaked(other, foreign):
                problems.append((label, view, other.status_code, leaked(other, foreign)))
        response = client.get(url(model, "change", own.pk))
        if response.status_code != 200 or leaked(response, foreign):
            problems.append((label, "own change page", response.status_code, leaked(response, foreign)))
            continue
        if not model_admin.has_change_permission(request, own):
            continue
        data = form_data(response)
        # The page's own values are accepted: a refusal below is the foreign id's.
        unchanged = client.post(url(model, "change", own.pk), data)
        if unchanged.status_code != 302:
            problems.append((label, "own values refused", unchanged.status_code))
            continue
        for field in relations(model):
            target = foreign.get(field.related_model._meta.label)
            if target is None:
                continue
            where = f"{label}.{field.name}"
            before = snapshot(own)
            response = client.post(url(model, "change", own.pk), {**data, field.name: [str(target.pk)]})
            if leaked(response, foreign):
                problems.append((where, "POST names", leaked(response, foreign)))
            if field.name in data and (response.status_code != 200 or field.name not in
                                       response.context["adminform"].form.errors):
                problems.append((where, "POST accepted", response.status_code))
            if snapshot(own) != before:
                problems.append((where, "POST changed the row"))
            checked += 1
    assert problems == [], "\n".join(map(str, problems))
    assert checked >= 10


def test_autocomplete_finds_only_the_organisations_rows(world):
    home, foreign, org_admin, client = world
    checked = 0
    for model, _model_admin in org_admin_admins(org_admin):
        for field in relations(model):
            target = foreign.get(field.related_model._meta.label)
            if target is None:
                continue
            query = urlencode({"app_label": model._meta.app_label, "model_name": model._meta.model_name,
                               "field_name": field.name, "term": FOREIGN})
            response = client.get(f"/admin/autocomplete/?{query}")
            assert response.status_code in (200, 403, 404), (model, field.name)
            assert leaked(response, foreign) == [], (model, field.name)
            if response.status_code == 200:
                ids = {item["id"] for item in json.loads(response.content)["results"]}
                assert str(target.pk) not in ids, (model, field.name)
                checked += 1
    assert checked >= 5


def test_autocomplete_term_does_find_the_foreign_rows_for_the_platform(world):
    # The term of the test above matches: a platform admin gets the foreign contact.
    home, foreign, _org_admin, _client = world
    root = UserFactory(organization=None, is_staff=True, is_superuser=True, username="root")
    client = Client()
    client.force_login(root)
    query = urlencode({"app_label": "conversations", "model_name": "conversation", "field_name": "contact",
                       "term": FOREIGN})
    results = client.get(f"/admin/autocomplete/?{query}").json()["results"]
    assert results == [{"id": str(foreign["conversations.Contact"].pk), "text": f"{FOREIGN} contact"}]


def test_changelists_and_their_filters_hold_only_the_organisations_rows(world):
    home, foreign, org_admin, client = world
    for model, _model_admin in org_admin_admins(org_admin):
        response = client.get(url(model, ""))
        assert response.status_code == 200, model
        assert leaked(response, foreign) == [], model
        for field in relations(model):
            target = foreign.get(field.related_model._meta.label)
            if target is None:
                continue
            response = client.get(url(model, "") + "?" + urlencode({f"{field.name}__id__exact": target.pk}))
            assert response.status_code in (200, 302), (model, field.name)
            assert leaked(response, foreign) == [], (model, field.name)


def test_related_list_filters_offer_the_organisations_rows(world):
    home, foreign, _org_admin, client = world
    body = client.get("/admin/conversations/conversation/").content.decode()
    # The number, team and label filters are there, with this organisation's rows only.
    for row in ("whatsapp.WhatsAppNumber", "accounts.Team", "conversations.Label"):
        assert str(home[row]) in body, row


def test_inlines_scope_their_rows_and_choices(world):
    home, foreign, org_admin, _client = world
    from apps.conversations.models import Conversation, Note

    from django.contrib.auth.models import Permission

    # An inline shows its rows to whoever its permissions let in: here, Django's "view note".
    org_admin.user_permissions.add(Permission.objects.get(codename="view_note"))
    request = as_request(type(org_admin).objects.get(pk=org_admin.pk))
    conversation_admin = admin.site._registry[Conversation]
    # A note of another organisation hung on our conversation (bad data) is not listed.
    Note.objects.create(conversation=home["conversations.Conversation"],
                        organization=foreign["accounts.Organization"], body=f"{FOREIGN} stray note")
    # The inline as the page builds it (shown to whoever the inline's own permissions let in).
    [inline_class] = [i for i in conversation_admin.get_inlines(request, home["conversations.Conversation"])
                      if i.model is Note]
    inline = inline_class(Conversation, admin.site)
    assert list(inline.get_queryset(request).values_list("body", flat=True)) == [f"{HOME} note"]
    author = inline.formfield_for_foreignkey(Note._meta.get_field("author"), request)
    assert foreign["accounts.User"] not in author.queryset
    assert home["accounts.User"] in author.queryset
    # Mentions have a model of their own (their read state): admin offers no field to
    # change them, so no user of another organisation either.
    assert inline.formfield_for_manytomany(Note._meta.get_field("mentions"), request) is None


def test_org_admin_sees_only_the_organisation_it_belongs_to(world):
    home, foreign, org_admin, _client = world
    request = as_request(org_admin)
    model_admin = admin.site._registry[Organization]
    assert list(model_admin.get_queryset(request)) == [home["accounts.Organization"]]


def test_a_foreign_raw_id_is_named_for_the_platform(world):
    # The leak the audit found, as the platform admin legitimately sees it: the check
    # above is not vacuous.
    home, foreign, _org_admin, _client = world
    root = UserFactory(organization=None, is_staff=True, is_superuser=True, username="root")
    client = Client()
    client.force_login(root)
    body = client.get(f"/admin/conversations/conversation/add/?contact={foreign['conversations.Contact'].pk}")
    assert f"{FOREIGN} contact" in body.content.decode()



def test_rows_pointing_to_another_organisations_rows_do_not_name_them(world):
    # Bad data (no writer makes it): our rows referring to the other organisation's.
    home, foreign, org_admin, client = world
    from django.contrib.auth.models import Permission

    from apps.conversations.models import Conversation, Note

    note = home["conversations.Note"]
    Note.objects.filter(pk=note.pk).update(author=foreign["accounts.User"])
    entry = home["conversations.AuditLogEntry"]
    type(entry).objects.filter(pk=entry.pk).update(actor=foreign["accounts.User"],
                                                   conversation=foreign["conversations.Conversation"])
    message = home["messaging.Message"]
    type(message).objects.filter(pk=message.pk).update(reply_to=foreign["messaging.Message"])
    problems = []
    for row in (note, entry, message):
        for page in (url(type(row), ""), url(type(row), "change", row.pk)):
            response = client.get(page)
            if response.status_code != 200 or leaked(response, foreign):
                problems.append((page, response.status_code, leaked(response, foreign)))
    assert problems == [], "\n".join(map(str, problems))
    # The stored ids are kept: a page shows less, it changes nothing.
    note.refresh_from_db()
    assert note.author_id == foreign["accounts.User"].pk
    # Inline rows too (for an admin whose permissions show the inline).
    org_admin.user_permissions.add(Permission.objects.get(codename="view_note"))
    request = as_request(type(org_admin).objects.get(pk=org_admin.pk))
    [inline_class] = admin.site._registry[Conversation].get_inlines(request, home["conversations.Conversation"])
    [shown] = inline_class(Conversation, admin.site).get_queryset(request).filter(pk=note.pk)
    assert (shown.author_id, shown.author) == (foreign["accounts.User"].pk, None)
