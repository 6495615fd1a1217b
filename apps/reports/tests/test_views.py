"""The page, its CSV downloads and the JSON API: access, parameters, exports."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.tests.factories import AdminFactory, SupervisorFactory, UserFactory
from apps.conversations.tests.factories import ConversationFactory
from apps.messaging.tests.factories import MessageFactory
from apps.reports import sections
from apps.reports.export import csv_cell, table_csv
from apps.reports.sections import Table
from apps.reports.selectors import TABLES, report_tables
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .dataset import build, utc

pytestmark = pytest.mark.django_db
RANGE = {"start": "2025-03-10", "end": "2025-03-16"}


@pytest.fixture
def data():
    return build()


def client_for(user):
    client = APIClient()
    client.force_login(user)
    return client


@pytest.mark.parametrize("name", ["page", "csv", "api", "api-list"])
def test_agents_are_refused_everywhere(data, name):
    urls = {
        "page": reverse("reports:page"),
        "csv": reverse("reports:csv", args=["summary"]),
        "api": reverse("api-report", args=["summary"]),
        "api-list": reverse("api-reports"),
    }
    response = client_for(data.ann).get(urls[name], RANGE)
    assert response.status_code == 403
    assert b"conversations_opened" not in response.content


def test_anonymous_is_refused(data):
    client = APIClient()
    assert client.get(reverse("reports:page")).status_code == 302
    assert client.get(reverse("reports:csv", args=["summary"])).status_code == 302
    assert client.get(reverse("api-report", args=["summary"])).status_code in (401, 403)


def test_supervisor_and_admin_see_the_page(data):
    for user in (data.supervisor, AdminFactory(organization=data.org)):
        response = client_for(user).get(reverse("reports:page"), RANGE)
        assert response.status_code == 200
        body = response.content.decode()
        assert 'id="reports-data"' in body and "reports/charts.js" in body
        assert reverse("reports:csv", args=["agents"]) + "?start=2025-03-10" in body
        for name in TABLES:
            assert f'id="report-{name}"' in body


def test_json_matches_the_sections(data):
    response = client_for(data.supervisor).get(reverse("api-report", args=["response-times"]), RANGE)
    assert response.status_code == 200
    body = response.json()
    assert body["report"] == "response-times"
    assert body["params"]["timezone"] == "America/Sao_Paulo"
    assert body["rows"][1] == ["customer_waiting", 6, 900.0, 9000.0, 3315.0]
    assert client_for(data.supervisor).get(reverse("api-reports")).json()["reports"] == list(TABLES)


def test_json_of_every_table_over_token_auth(data):
    from apps.accounts.tokens import token_issue

    _, key = token_issue(user=data.supervisor, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    for name in TABLES:
        response = client.get(reverse("api-report", args=[name]), RANGE)
        assert response.status_code == 200, name
        assert response.json()["report"] == name


def test_csv_download(data):
    response = client_for(data.supervisor).get(reverse("reports:csv", args=["agents"]), RANGE)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="agents_2025-03-10_2025-03-16.csv"'
    parsed = list(csv.reader(io.StringIO(response.content.decode())))
    assert parsed[0][:4] == ["agent_id", "agent", "conversations_handled", "messages_sent"]
    assert parsed[1] == [str(data.ann.pk), "ann", "3", "4", "600.0", "7200.0", "1"]
    assert parsed[2] == [str(data.bob.pk), "bob", "1", "2", "2100.0", "", "1"]


def test_csv_neutralises_formula_cells():
    assert [csv_cell(v) for v in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "ok", -3, 1.5, None)] == [
        "'=1+1", "'+1", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "ok", -3, 1.5, ""
    ]
    text = table_csv(Table("t", "t", ["name", "n"], [['=HYPERLINK("http://x")', 1]]))
    assert text == "name,n\r\n\"'=HYPERLINK(\"\"http://x\"\")\",1\r\n"


def test_csv_neutralises_names_from_the_data(data):
    data.bob.display_name = "=cmd|' /C calc'!A0"
    data.bob.save()
    response = client_for(data.supervisor).get(reverse("reports:csv", args=["agents"]), RANGE)
    parsed = list(csv.reader(io.StringIO(response.content.decode())))
    assert parsed[2][1] == "'=cmd|' /C calc'!A0"


@pytest.mark.parametrize("query, field", [
    ({"start": "2025-13-01"}, "start"),
    ({"start": "2025-03-10", "end": "2025-03-01"}, "start"),
    ({"start": "2020-01-01", "end": "2025-03-01"}, "start"),
    ({"number": "abc"}, "number"),
    ({"hours": "someday 9-5"}, "hours"),
    ({"hours": "mon 10:00-09:00"}, "hours"),
    ({"hours": "mon 09:00-12:00, mon 11:00-13:00"}, "hours"),
])
def test_bad_input_names_the_field(data, query, field):
    response = client_for(data.supervisor).get(reverse("api-report", args=["summary"]), query)
    assert response.status_code == 400
    assert field in response.json()
    page = client_for(data.supervisor).get(reverse("reports:page"), query)
    assert page.status_code == 400
    assert f'data-field="{field}"' in page.content.decode()
    assert client_for(data.supervisor).get(reverse("reports:csv", args=["summary"]), query).status_code == 400


def test_ids_of_another_organisation_are_refused(data):
    foreign_number = WhatsAppNumberFactory()
    foreign_user = UserFactory(organization=foreign_number.organization)
    for field, value in (("number", foreign_number.pk), ("agent", foreign_user.pk)):
        response = client_for(data.supervisor).get(reverse("api-report", args=["summary"]), {field: value})
        assert response.status_code == 400
        assert field in response.json()


def test_another_organisation_sees_none_of_it(data):
    foreign_supervisor = SupervisorFactory()
    response = client_for(foreign_supervisor).get(reverse("api-report", args=["summary"]), RANGE)
    assert response.json()["rows"][0] == ["conversations_opened", 0]


def test_unknown_report_is_not_found(data):
    assert client_for(data.supervisor).get(reverse("api-report", args=["nope"])).status_code == 404
    assert client_for(data.supervisor).get(reverse("reports:csv", args=["nope"])).status_code == 404


def test_query_count_does_not_grow_with_the_data(data):
    params = data.params()
    with CaptureQueriesContext(connection) as before:
        report_tables(user=data.supervisor, params=params)
    for i in range(5):
        conversation = ConversationFactory(organization=data.org, number=data.n1, created_at=utc(2025, 3, 12, i),
                                           assignee=UserFactory(organization=data.org))
        MessageFactory(conversation=conversation, timestamp=utc(2025, 3, 12, i))
    with CaptureQueriesContext(connection) as after:
        report_tables(user=data.supervisor, params=params)
    assert len(after) == len(before)
    assert len(before) <= 25


def test_report_tables_refuses_agents(data):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        report_tables(user=data.ann, params=data.params())
    with pytest.raises(PermissionDenied):
        report_tables(user=SupervisorFactory(), params=data.params())


def test_sections_list_is_complete():
    produced = {name for name in TABLES}
    assert produced == {
        "summary", "volume", "messages-by-type", "messages-by-author", "response-times", "agents", "bot",
        "delivery", "failures", "templates", "template-categories", "cost-by-category", "cost-by-number",
        "cost-by-template", "calls", "referrals", "heatmap", "opt-outs",
    }
    assert len(sections.SECTIONS) == 13


def test_openapi_schema_describes_the_reports(data):
    response = client_for(data.supervisor).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    operation = paths["/api/v1/reports/{report}/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"report", "start", "end", "number", "team", "agent",
                                                             "label", "hours"}
    assert "/api/v1/reports/" in paths


def test_heat_map_is_drawn_not_listed_and_tables_scroll_by_keyboard(data):
    html = client_for(data.supervisor).get(reverse("reports:page"), RANGE).content.decode()
    heatmap = html.split('id="report-heatmap"')[1].split("</section>")[0]
    assert "<table" not in heatmap  # 168 rows: the chart draws them, the CSV keeps them
    assert reverse("reports:csv", args=["heatmap"]) in heatmap
    assert 'data-chart="heatmap"' in html
    volume = html.split('id="report-volume"')[1].split("</section>")[0]
    assert 'class="scroll" tabindex="0" role="region"' in volume


def test_time_zone_control_reads_the_report_in_another_zone(data):
    client = client_for(data.supervisor)
    page = client.get(reverse("reports:page"), {**RANGE, "tz": "Asia/Tokyo"}).content.decode()
    assert "Days and hours in Asia/Tokyo." in page
    assert '<option value="Asia/Tokyo" selected>' in page
    api = client.get(reverse("api-report", args=["summary"]), {**RANGE, "tz": "Asia/Tokyo"}).json()
    assert api["params"]["timezone"] == "Asia/Tokyo"
    bad = client.get(reverse("reports:page"), {**RANGE, "tz": "Mars/Olympus"})
    assert bad.status_code == 400 and 'data-field="tz"' in bad.content.decode()


def test_durations_are_written_in_one_unit_family():
    from apps.reports.templatetags.reports import report_cell

    assert report_cell(45, "median_seconds") == "0:00:45"
    assert report_cell(150.4, "median_seconds") == "0:02:30"
    assert report_cell(4 * 3600 + 7, "p90_seconds") == "4:00:07"
