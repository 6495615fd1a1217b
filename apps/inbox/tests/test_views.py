"""The inbox pages: views, filters, search, access, keyset pagination, query counts."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.tests.worlds import FOREIGN_NAME
from apps.conversations.models import Conversation
from apps.conversations.tests.factories import (
    ConversationFactory,
    LabelFactory,
    NoteFactory,
)
from apps.messaging.models import Message
from apps.messaging.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


def client_for(client, user):
    client.force_login(user)
    return client


def row_ids(response) -> list[int]:
    return [row.conversation.pk for row in response.context["rows"]]


def test_root_redirects_to_the_inbox_and_the_inbox_asks_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == reverse("inbox:list")
    response = client.get(reverse("inbox:list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_views_mine_unassigned_all_for_an_agent(client, world):
    client_for(client, world.agent)
    assert row_ids(client.get("/inbox/?view=mine")) == [world.mine.pk]
    assert row_ids(client.get("/inbox/?view=unassigned")) == [world.unassigned.pk]
    assert set(row_ids(client.get("/inbox/?view=all"))) == {world.mine.pk, world.unassigned.pk}


def test_all_for_a_supervisor_is_every_conversation_of_the_organisation(client, world):
    client_for(client, world.supervisor)
    assert set(row_ids(client.get("/inbox/"))) == {world.mine.pk, world.colleagues.pk, world.unassigned.pk}


def test_status_number_and_label_views(client, world):
    Conversation.objects.filter(pk=world.unassigned.pk).update(status="pending")
    world.mine.labels.add(world.label)
    client_for(client, world.supervisor)
    assert row_ids(client.get("/inbox/?status=pending")) == [world.unassigned.pk]
    assert set(row_ids(client.get("/inbox/?status=any"))) == {world.mine.pk, world.colleagues.pk, world.unassigned.pk}
    assert row_ids(client.get(f"/inbox/?label={world.label.pk}")) == [world.mine.pk]
    other = ConversationFactory(organization=world.org, contact__organization=world.org)
    assert row_ids(client.get(f"/inbox/?number={other.number_id}")) == [other.pk]
    assert row_ids(client.get("/inbox/?status=snoozed")) == []
    page = client.get("/inbox/?status=resolved")
    assert page.status_code == 200 and "No conversations here." in page.content.decode()


@pytest.mark.parametrize("query", ["view=everything", "status=closed", "number=abc", "label=1;drop"])
def test_bad_filters_are_a_400_naming_the_field(client, world, query):
    client_for(client, world.agent)
    response = client.get(f"/inbox/?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.content.decode()


def test_list_is_sorted_by_last_activity_and_shows_unread_and_window(client, world):
    now = timezone.now()
    Conversation.objects.filter(pk=world.mine.pk).update(last_message_at=now - timedelta(hours=2), unread_count=3,
                                                         last_customer_message_at=now - timedelta(hours=30))
    Conversation.objects.filter(pk=world.unassigned.pk).update(last_message_at=now)
    client_for(client, world.agent)
    response = client.get("/inbox/")
    assert row_ids(response) == [world.unassigned.pk, world.mine.pk]
    html = response.content.decode()
    assert 'data-unread="3"' in html and "3 unread messages" in html
    mine_row = next(r for r in response.context["rows"] if r.conversation.pk == world.mine.pk)
    assert mine_row.window_open is False
    assert "Window closed" in html and "24h open" in html


def test_search_by_name_phone_and_message_text(client, world):
    client_for(client, world.agent)
    assert row_ids(client.get("/inbox/?q=alice")) == [world.mine.pk]
    assert row_ids(client.get(f"/inbox/?q={world.unassigned.contact.wa_id[-6:]}")) == [world.unassigned.pk]
    assert row_ids(client.get("/inbox/?q=PARCEL")) == [world.mine.pk]
    assert row_ids(client.get("/inbox/?q=nothing-matches-this")) == []


def test_search_spans_every_status_unless_one_is_chosen(client, world):
    """A match in a snoozed, pending or resolved conversation is found from the default
    (Open) list; a status chosen on purpose still narrows the search."""
    Conversation.objects.filter(pk=world.mine.pk).update(status="snoozed", snoozed_until=timezone.now() + timedelta(days=1))
    Conversation.objects.filter(pk=world.unassigned.pk).update(status="resolved")
    client_for(client, world.agent)
    assert row_ids(client.get("/inbox/")) == []  # no status chosen, no search: open only
    assert row_ids(client.get("/inbox/?q=alice")) == [world.mine.pk]
    assert row_ids(client.get("/inbox/?view=mine&q=PARCEL")) == [world.mine.pk]
    response = client.get(f"/inbox/?q={world.unassigned.contact.wa_id[-6:]}")
    assert row_ids(response) == [world.unassigned.pk]
    # The links and the live row checks of a search keep it spanning every status.
    assert response.context["filter_query"] == f"view=all&q={world.unassigned.contact.wa_id[-6:]}"
    html = response.content.decode()
    assert 'name="status"' not in html
    row = client.get(reverse("inbox:row", args=[world.unassigned.pk]),
                     {"view": "all", "q": world.unassigned.contact.wa_id[-6:]})
    assert row.status_code == 200
    # Chosen: kept, by the search form too.
    assert row_ids(client.get("/inbox/?status=open&q=alice")) == []
    assert row_ids(client.get("/inbox/?status=snoozed&q=alice")) == [world.mine.pk]
    chosen = client.get("/inbox/?status=snoozed&q=alice")
    assert '<input type="hidden" name="status" value="snoozed">' in chosen.content.decode()
    assert chosen.context["filter_query"] == "view=all&status=snoozed&q=alice"
    # "all" is every status, as "any" is.
    assert row_ids(client.get("/inbox/?status=all&q=alice")) == [world.mine.pk]
    assert set(row_ids(client.get("/inbox/?status=all"))) == {world.mine.pk, world.unassigned.pk}


def test_search_never_finds_foreign_or_colleagues_conversations(client, world):
    MessageFactory(conversation=world.colleagues, text="foreign secret message text")
    client_for(client, world.agent)
    for q in ("foreign secret", FOREIGN_NAME.split()[0], "Bob"):
        assert row_ids(client.get("/inbox/", {"q": q})) == []


@pytest.mark.parametrize("role", ["agent", "supervisor", "foreign_admin"])
def test_foreign_conversations_never_appear_in_any_view(client, world, role):
    client_for(client, getattr(world, role))
    for query in ("view=mine", "view=unassigned", "view=all", "status=any", f"number={world.foreign.number_id}",
                  f"label={world.foreign_label.pk}"):
        html = client.get(f"/inbox/?{query}").content.decode()
        if role == "foreign_admin":
            assert world.mine.contact.display_name not in html
        else:
            assert FOREIGN_NAME not in html


def test_conversation_of_another_team_or_organisation_is_not_found(client, world):
    client_for(client, world.agent)
    for pk in (world.colleagues.pk, world.foreign.pk):
        assert client.get(reverse("inbox:conversation", args=[pk])).status_code == 404
        assert client.get(reverse("inbox:row", args=[pk])).status_code == 204
        assert client.get(reverse("inbox:messages", args=[pk]) + "?before=x").status_code == 404
    foreign_message = Message.objects.filter(conversation=world.foreign).first()
    assert client.get(reverse("inbox:message", args=[foreign_message.pk])).status_code == 404
    assert client.post(reverse("inbox:retry", args=[foreign_message.pk])).status_code == 404
    assert client.get(reverse("inbox:history", args=[foreign_message.pk])).status_code == 404
    foreign_note = NoteFactory(conversation=world.foreign)
    assert client.get(reverse("inbox:note", args=[foreign_note.pk])).status_code == 404


def test_keyset_pagination_walks_every_conversation_once(client, world):
    start = timezone.now()
    made = [world.mine.pk, world.unassigned.pk]
    for i in range(70):
        made.append(ConversationFactory(organization=world.org, number=world.number, assignee=world.agent,
                                        contact__organization=world.org,
                                        last_message_at=start - timedelta(minutes=i % 7)).pk)
    # Ties on last_message_at and a conversation without activity are both kept.
    Conversation.objects.filter(pk=made[5]).update(last_message_at=None)
    client_for(client, world.agent)
    response = client.get("/inbox/")
    seen = row_ids(response)
    after = response.context["page"].after
    while after:
        response = client.get(reverse("inbox:rows"), {"view": "all", "status": "open", "after": after})
        assert response.status_code == 200
        seen += row_ids(response)
        after = response.context["page"].after
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    assert seen[-1] == made[5]
    assert client.get(reverse("inbox:rows"), {"after": "not-a-cursor"}).status_code == 400


def test_row_partial_answers_whether_the_conversation_belongs_in_the_view(client, world):
    client_for(client, world.agent)
    url = reverse("inbox:row", args=[world.unassigned.pk])
    assert client.get(url, {"view": "unassigned"}).status_code == 200
    assert client.get(url, {"view": "mine"}).status_code == 204
    Conversation.objects.filter(pk=world.unassigned.pk).update(assignee=world.colleague)
    assert client.get(url, {"view": "all"}).status_code == 204  # reassigned away: gone


def _bulk_conversations(world, n, user):
    """n conversations in every view: mine and unassigned, open and pending, on the
    world's number, labelled, with an "a" in the name; each with a label of its own."""
    for i in range(n):
        conversation = ConversationFactory(
            organization=world.org, number=world.number, assignee=user if i % 2 else None,
            status="pending" if i % 3 == 0 else "open", contact__organization=world.org, contact__name=f"Ana {i}",
        )
        conversation.labels.add(world.label, LabelFactory(organization=world.org))


@pytest.mark.parametrize("user_attr", ["agent", "supervisor"])
@pytest.mark.parametrize("query", ["view=mine", "view=unassigned", "view=all", "status=pending", "number={number}",
                                   "label={label}", "q=a", "sort=oldest", "sort=waiting", "sort=priority"])
def test_list_page_costs_a_constant_number_of_queries(client, world, user_attr, query,
                                                      django_assert_num_queries):
    user = getattr(world, user_attr)
    query = query.format(number=world.number.pk, label=world.label.pk)
    client_for(client, user)
    _bulk_conversations(world, 3, user)
    # Session, the user with their organisation (its time zone), conversations (with
    # contact, assignee and the ids of their labels), the navigation's numbers and
    # labels (which the rows name), the counts of Mine, Unassigned and All with the
    # unread mentions (one statement); agents pay one more: their teams with their
    # numbers, read once for every rule of the request (access.conversation_filter).
    expected = 7 if user_attr == "agent" else 6
    with django_assert_num_queries(expected):
        first = client.get(f"/inbox/?{query}")
    _bulk_conversations(world, 25, user)
    with django_assert_num_queries(expected):
        response = client.get(f"/inbox/?{query}")
    assert response.status_code == 200
    assert 0 < len(first.context["rows"]) < len(response.context["rows"])


def test_first_page_selector_is_at_most_five_queries(world, django_assert_max_num_queries):
    from apps.conversations.selectors import InboxFilter
    from apps.messaging.selectors import search

    _bulk_conversations(world, 40, world.agent)
    for user in (world.agent, world.supervisor):
        for view in ("mine", "unassigned", "all"):
            with django_assert_max_num_queries(5):
                page = search.conversation_inbox_page(user=user, filters=InboxFilter(view=view))
                [list(c.label_ids) for c in page.conversations]
                [c.contact.display_name for c in page.conversations]


def test_availability_switch(client, world, published):
    client_for(client, world.agent)
    response = client.post(reverse("inbox:availability"), {"availability": "online", "next": "/inbox/"})
    assert response.status_code == 302 and response["Location"] == "/inbox/"
    world.agent.refresh_from_db()
    assert world.agent.availability == User.Availability.ONLINE
    response = client.post(reverse("inbox:availability"), {"availability": "sleeping"})
    assert response.status_code == 400 and "availability" in response.content.decode()
    world.agent.refresh_from_db()
    assert world.agent.availability == User.Availability.ONLINE
    off = client.post(reverse("inbox:availability"), {"availability": "away", "next": "https://evil.example/"})
    assert off["Location"] == reverse("inbox:list")


def test_language_switch_to_brazilian_portuguese(client, world):
    client_for(client, world.agent)
    response = client.post(reverse("inbox:language"), {"language": "pt-br", "next": "/inbox/"})
    assert response.status_code == 302
    html = client.get("/inbox/").content.decode()
    assert 'lang="pt-br"' in html
    assert "Não atribuídas" in html and "Sair" in html


def test_list_shows_times_in_the_organisations_time_zone(client, world):
    world.org.timezone = "America/Sao_Paulo"
    world.org.save()
    Conversation.objects.filter(pk=world.mine.pk).update(last_message_at=datetime(2026, 3, 10, 1, 30, tzinfo=dt_timezone.utc))
    client_for(client, world.agent)
    html = client.get("/inbox/").content.decode()
    assert 'datetime="2026-03-09T22:30:00-03:00"' in html


def test_page_links_the_manifest_and_has_landmarks(client, world):
    client_for(client, world.agent)
    html = client.get("/inbox/").content.decode()
    assert 'rel="manifest"' in html and "manifest.webmanifest" in html
    assert '<main class="thread-pane" id="main"' in html and 'role="search"' in html
    assert 'aria-label="Conversations"' in html


def test_search_uses_the_trigram_indexes_on_postgresql(world):
    """The icontains expressions of the search (UPPER(col::text) LIKE ...) are the
    trigram indexes' expressions, so the planner can use them (told not to scan
    sequentially, it does)."""
    from apps.conversations.models import Contact

    def plan(queryset) -> str:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            sql, params = queryset.query.sql_with_params()
            cursor.execute(f"EXPLAIN {sql}", params)
            return "\n".join(row[0] for row in cursor.fetchall())

    assert "msg_text_upper_trgm" in plan(Message.objects.filter(text__icontains="parcel").values("id"))
    for field in ("name", "profile_name", "phone", "wa_id"):
        index = {"name": "name", "profile_name": "profile", "phone": "phone", "wa_id": "waid"}[field]
        assert f"conv_search_contact_{index}_trgm" in plan(
            Contact.objects.filter(**{f"{field}__icontains": "ali"}).values("id"))
    # A term without letters compares the numbers as they are (conversations/0006).
    for field, index in (("phone", "phone"), ("wa_id", "waid")):
        assert f"conv_search_contact_{index}_trgm_plain" in plan(
            Contact.objects.filter(**{f"{field}__contains": "1190"}).values("id"))


@pytest.mark.parametrize("q", ["+5511987", "87654", "4321", "555 9", "EXT", "EXT 9", "ANA", "9-8"])
def test_contact_search_matches_as_icontains_on_every_column(world, q):
    """The search compares a letter-free term without case folding: the contacts found
    are exactly those a case-insensitive match of every column finds."""
    from django.db.models import Q

    from apps.conversations.models import Contact
    from apps.conversations.selectors import contact_ids_matching

    organization = world.agent.organization
    for phone, name in (("+5511987654321", "Ana"), ("+1 555 9-876 ext 9", "zoË Ext"), ("4321", "")):
        Contact.objects.create(organization=organization, wa_id=phone.replace("+", "").replace(" ", "")[:20],
                               phone=phone, name=name)
    expected = set(Contact.objects.filter(organization=organization).filter(
        Q(name__icontains=q) | Q(profile_name__icontains=q) | Q(phone__icontains=q) | Q(wa_id__icontains=q)
    ).values_list("id", flat=True))
    assert expected, "each term matches some contact"
    assert set(contact_ids_matching(user=world.agent, q=q).values_list("id", flat=True)) == expected


def test_availability_switch_over_htmx_answers_the_form(client, world, published,
                                                        django_capture_on_commit_callbacks):
    client_for(client, world.agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("inbox:availability"), {"availability": "away"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="availability"' in html and '<option value="away" selected>' in html
    assert [e for e, data, _ in published if e == "user.availability" and data["availability"] == "away"]


def test_login_page_offers_the_language_switch(client):
    html = client.get(reverse("login")).content.decode()
    assert 'action="/inbox/language/"' in html and 'value="pt-br"' in html


def test_reports_link_only_for_those_who_may_read_reports(client, world):
    reports = reverse("reports:page")
    assert reports.encode() not in client_for(client, world.agent).get("/inbox/").content
    assert reports.encode() in client_for(client, world.supervisor).get("/inbox/").content


def test_the_navigation_offers_an_agent_their_teams_numbers_and_those_of_their_conversations(client, world):
    from apps.whatsapp.tests.factories import WhatsAppNumberFactory

    assigned = WhatsAppNumberFactory(organization=world.org, name="Where I have one")
    WhatsAppNumberFactory(organization=world.org, name="Nothing of mine")
    ConversationFactory.create_batch(2, organization=world.org, number=assigned, assignee=world.agent)
    ConversationFactory(organization=world.org, number=assigned, assignee=world.colleague)
    client_for(client, world.agent)
    numbers = client.get("/inbox/").context["numbers"]
    assert [n.pk for n in numbers] == sorted([world.number.pk, assigned.pk])
    client_for(client, world.supervisor)
    assert len(client.get("/inbox/").context["numbers"]) == 3
    # What the navigation shows of a number, never its tokens.
    html = client.get("/inbox/").content.decode()
    assert "Where I have one" in html and "Nothing of mine" in html
    assert world.number.access_token not in html


def test_each_row_names_its_labels_by_name_on_every_list_page_and_in_a_single_row(client, world):
    zeta = LabelFactory(organization=world.org, name="zeta")
    alpha = LabelFactory(organization=world.org, name="alpha")
    LabelFactory(organization=world.org, name="unused")
    world.mine.labels.add(zeta, world.label, alpha)
    client_for(client, world.agent)

    def labels_of(rows, conversation):
        return [[label.name for label in row.labels] for row in rows if row.conversation.pk == conversation.pk]

    for url in ("/inbox/?view=all", "/inbox/?view=mine", "/inbox/?view=all&sort=oldest", "/inbox/?q=Alice",
                f"/inbox/c/{world.mine.pk}/"):
        rows = client.get(url).context["rows"]
        assert labels_of(rows, world.mine) == [["alpha", "vip", "zeta"]], url
        assert labels_of(rows, world.unassigned) in ([[]], []), url
    response = client.get(reverse("inbox:row", args=[world.mine.pk]) + "?view=all")
    assert [label.name for label in response.context["row"].labels] == ["alpha", "vip", "zeta"]
    html = response.content.decode()
    assert html.index(">alpha<") < html.index(">vip<") < html.index(">zeta<") and "unused" not in html
