#!/usr/bin/env python
"""Reports benchmark: the whole supervisors' report for 30 days over 1,000,000 messages.

Seeds its own PostgreSQL database (inbox_bench_reports) with set-based SQL
(generate_series): 100,000 conversations of 10 messages each (customers, agents, the
bot, templates and notifications; delivery statuses and failures; resolutions,
hand-offs, reopenings, opt-outs in the audit log) spread over the last 60 days. Then
times every section of the report for the last 30 days, as a supervisor, in-process,
and prints it against the target (< 1 s) and the floor measured in the same run: a bare
`SELECT count(*)` over the messages table.

Before timing, the reports' roll-ups (apps/reports/models.py) are built in full and
refreshed once as the periodic task does (both timed and printed); the report then
reads them for the closed hours and live SQL for the current one.

Usage: python bench/reports.py [--quick] [--keep]
  --quick  100,000 messages instead of 1,000,000
  --keep   reuse the seeded database of an earlier run (skip seeding)
Needs PostgreSQL on 127.0.0.1:5432 (user postgres).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB_NAME = "inbox_bench_reports"
ENV = {
    **os.environ,
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
    "SECRET_KEY": "bench-secret-key-" + "x" * 40,
    "FIELD_ENCRYPTION_KEY": "bXktYmVuY2gta2V5LW15LWJlbmNoLWtleS0xMjM0NTY=",
    "DEBUG": "false",
    "LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "config.settings",
}
os.environ.update(ENV)
TARGET_SECONDS = 1.0
DAYS_SEEDED = 60
DAYS_REPORTED = 30
AGENTS = 20


def prepare_database():
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=ENV, check=True)


SEED_SQL = """
SELECT setseed(0.42);
CREATE TEMP TABLE plan AS
SELECT i,
       %(now)s::timestamptz - (random() * %(days)s * 86400) * interval '1 second' AS created,
       (30 + random() * 1770)::int AS gap,
       (%(agents)s)[1 + (random() * (%(n_agents)s - 1))::int] AS agent,
       i %% 10 AS kind
FROM generate_series(1, %(conversations)s) AS i;

INSERT INTO conversations_contact (id, organization_id, wa_id, user_id, parent_user_id, username, phone, profile_name,
    name, opted_out, opted_out_at, opt_out_reason, marketing_opted_out, marketing_opted_out_at, attributes, created_at,
    updated_at)
SELECT i, %(org)s, '55' || lpad(i::text, 11, '0'), '', '', '', '+55' || lpad(i::text, 11, '0'), 'Customer ' || i, '',
       i %% 200 = 0, CASE WHEN i %% 200 = 0 THEN created + interval '1 hour' END, '', false, NULL, '{}', created, created
FROM plan;

INSERT INTO conversations_conversation (id, organization_id, contact_id, number_id, status, assignee_id, team_id,
    priority, unread_count, last_message_at, last_message_preview, last_customer_message_at, first_response_at,
    bot_active, snoozed_until, resolved_at, created_at, updated_at)
SELECT i, %(org)s, i, (%(numbers)s)[1 + i %% 2],
       CASE WHEN kind <= 7 THEN 'resolved' ELSE 'open' END,
       CASE WHEN kind = 9 OR kind = 7 THEN NULL ELSE agent END,
       (%(teams)s)[1 + i %% 2], 0, 0,
       created + 9 * gap * interval '1 second', 'hello', created + 8 * gap * interval '1 second',
       CASE WHEN kind <= 6 THEN created + gap * interval '1 second'
            WHEN kind = 8 THEN created + 3 * gap * interval '1 second' END,
       kind IN (7, 8), NULL,
       CASE WHEN kind <= 7 THEN created + 10 * gap * interval '1 second' END,
       created, created
FROM plan;

CREATE TEMP TABLE msgplan AS
SELECT p.i, j, p.created + j * p.gap * interval '1 second' AS ts, p.kind, p.agent, random() AS r,
       (j %% 2 = 1 AND p.kind <> 9) AS outbound
FROM plan p CROSS JOIN generate_series(0, %(per_conversation)s - 1) AS j;

INSERT INTO messaging_message (organization_id, conversation_id, number_id, wamid, direction, author_type, author_id,
    type, content, text, reply_to_id, reply_to_wamid, forwarded, frequently_forwarded, referral, errors, status,
    timestamp, created_at, sent_at, delivered_at, read_at, played_at, failed_at, deleted_at, edited_at, edit_history,
    error_code, error_title, error_message, error_details, pricing, meta_conversation, send_attempts,
    send_started_at, next_attempt_at, idempotency_key)
SELECT %(org)s, m.i, (%(numbers)s)[1 + m.i %% 2], 'wamid.B' || m.i || '.' || m.j,
       CASE WHEN m.outbound THEN 'out' ELSE 'in' END,
       CASE WHEN NOT m.outbound THEN 'customer'
            WHEN m.j = 9 AND m.kind = 0 THEN 'integration'
            WHEN m.kind = 7 OR (m.kind = 8 AND m.j = 1) THEN 'bot'
            ELSE 'agent' END,
       CASE WHEN m.outbound AND m.kind <> 7 AND NOT (m.kind = 8 AND m.j = 1) AND NOT (m.j = 9 AND m.kind = 0)
            THEN m.agent END,
       CASE WHEN m.outbound AND m.j = 9 AND m.kind IN (0, 1) THEN 'template'
            WHEN NOT m.outbound AND m.j = 2 AND m.kind = 3 THEN 'image' ELSE 'text' END,
       CASE WHEN m.outbound AND m.j = 9 AND m.kind IN (0, 1)
            THEN jsonb_build_object('name', CASE WHEN m.kind = 0 THEN 'shipping_notice' ELSE 'order_update' END,
                                    'language', jsonb_build_object('code', 'en_US'))
            ELSE '{"body": "hello"}'::jsonb END,
       'hello', NULL, '', false, false, NULL, NULL,
       CASE WHEN NOT m.outbound THEN 'received' WHEN m.r < 0.03 THEN 'failed' WHEN m.r < 0.2 THEN 'sent'
            WHEN m.r < 0.5 THEN 'delivered' ELSE 'read' END,
       m.ts, m.ts,
       CASE WHEN m.outbound AND m.r >= 0.03 THEN m.ts + interval '1 second' END,
       CASE WHEN m.outbound AND m.r >= 0.2 THEN m.ts + interval '5 seconds' END,
       CASE WHEN m.outbound AND m.r >= 0.5 THEN m.ts + interval '60 seconds' END,
       NULL,
       CASE WHEN m.outbound AND m.r < 0.03 THEN m.ts + interval '2 seconds' END,
       NULL, NULL, '[]',
       CASE WHEN m.outbound AND m.r < 0.015 THEN 131026 WHEN m.outbound AND m.r < 0.03 THEN 131047 END,
       CASE WHEN m.outbound AND m.r < 0.015 THEN 'Message undeliverable'
            WHEN m.outbound AND m.r < 0.03 THEN 'Re-engagement message' ELSE '' END,
       '', '', NULL, NULL, CASE WHEN m.outbound THEN 1 ELSE 0 END, NULL, NULL, ''
FROM msgplan m;

INSERT INTO conversations_auditlogentry (organization_id, actor_id, conversation_id, action, data, created_at)
SELECT %(org)s, agent, i, 'conversation.status_changed', '{"from": "open", "to": "resolved"}'::jsonb,
       created + 10 * gap * interval '1 second'
FROM plan WHERE kind <= 7
UNION ALL
SELECT %(org)s, NULL, i, 'bot.handoff', '{"reason": "asked for a human"}', created + 2 * gap * interval '1 second'
FROM plan WHERE kind = 8
UNION ALL
SELECT %(org)s, NULL, i, 'conversation.reopened', '{"reason": "customer_message"}',
       created + 12 * gap * interval '1 second'
FROM plan WHERE i %% 50 = 0 AND kind <= 7
UNION ALL
SELECT %(org)s, NULL, i, 'contact.opted_out', jsonb_build_object('contact_id', i, 'reason', 'STOP'),
       created + interval '1 hour'
FROM plan WHERE i %% 200 = 0;

SELECT setval(pg_get_serial_sequence('conversations_contact', 'id'), %(conversations)s);
SELECT setval(pg_get_serial_sequence('conversations_conversation', 'id'), %(conversations)s);
"""


def seed(messages: int, now):
    from django.db import connection

    from apps.accounts.models import Organization, Team, User
    from apps.message_templates.models import MessageTemplate
    from apps.whatsapp.models import WhatsAppNumber

    org = Organization.objects.create(name="Bench", slug="bench", timezone="America/Sao_Paulo")
    numbers = [WhatsAppNumber.objects.create(organization=org, phone_number_id=f"99000000000000{i}",
                                             waba_id="990000000000009", name=f"Line {i}") for i in (1, 2)]
    agents = [User.objects.create(organization=org, username=f"agent{i:02d}", role=User.Role.AGENT)
              for i in range(AGENTS)]
    teams = [Team.objects.create(organization=org, name=f"Team {i}") for i in (1, 2)]
    User.objects.create(organization=org, username="supervisor", role=User.Role.SUPERVISOR)
    for name, category in (("order_update", "UTILITY"), ("shipping_notice", "MARKETING")):
        MessageTemplate.objects.create(organization=org, waba_id="990000000000009", name=name, language="en_US",
                                       category=category, status="APPROVED")
    per_conversation = 10
    values = {
        "now": now, "days": DAYS_SEEDED, "agents": [a.pk for a in agents], "n_agents": len(agents),
        "conversations": messages // per_conversation, "org": org.pk, "numbers": [n.pk for n in numbers],
        "teams": [t.pk for t in teams], "per_conversation": per_conversation,
    }
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for statement in SEED_SQL.split(";\n"):
            if statement.strip():
                cursor.execute(statement, values)
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def sections_settle() -> str:
    from apps.reports.services import SETTLE

    return f"{SETTLE.days} days"


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    messages = 100_000 if args.quick else 1_000_000
    runs = 3 if args.quick else 5

    if not args.keep:
        prepare_database()
    else:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=ENV, check=True)
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.reports import sections
    from apps.reports.params import report_params_parse
    from apps.reports.selectors import report_tables

    now = timezone.now().replace(microsecond=0)
    if not args.keep:
        print(f"seeding {messages:,} messages ...", flush=True)
        print(f"  seeded in {seed(messages, now):.1f} s", flush=True)
    supervisor = User.objects.get(username="supervisor")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM messaging_message")
        total = cursor.fetchone()[0]
    end = timezone.localdate(now, timezone=timezone.get_fixed_timezone(-180))
    data = {"start": (end - timedelta(days=DAYS_REPORTED - 1)).isoformat(), "end": end.isoformat()}
    params = report_params_parse(user=supervisor, data=data)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM messaging_message WHERE timestamp >= %s AND timestamp < %s",
                       [params.start, params.end])
        in_range = cursor.fetchone()[0]

    def floor():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM messaging_message")
            cursor.fetchone()

    from apps.reports.services import rollup_refresh

    started = time.perf_counter()
    rollup_refresh(organization_id=supervisor.organization_id, full=True)
    rollup_full = time.perf_counter() - started
    started = time.perf_counter()
    rollup_refresh(organization_id=supervisor.organization_id)
    rollup_incremental = time.perf_counter() - started
    rollup_rows = {}
    rollups = ("reports_messagehour", "reports_replywait", "reports_authorhour", "reports_conversationfacts")
    with connection.cursor() as cursor:
        # As autovacuum does on a production server (this machine's PostgreSQL runs
        # with autovacuum off): statistics for the planner, the dead rows of the
        # rebuild gone, the visibility map set. Outside the timings.
        for table in (*rollups, "messaging_message", "conversations_conversation", "conversations_auditlogentry"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        for table in rollups:
            cursor.execute(f"SELECT count(*) FROM {table}")
            rollup_rows[table.removeprefix("reports_")] = cursor.fetchone()[0]
        # Write the rebuild's dirty pages out now rather than during the timings.
        cursor.execute("CHECKPOINT")
    if not sections.rolled_until(params):
        sys.exit("the report does not read the roll-ups")

    report_tables(user=supervisor, params=params)  # warm the caches once
    floor_times = timed(floor, runs)
    report_times = timed(lambda: report_tables(user=supervisor, params=params), runs)
    hours = report_params_parse(user=supervisor, data={**data, "hours": "mon-fri 09:00-18:00"})
    hours_times = timed(lambda: report_tables(user=supervisor, params=hours), runs)
    # Filtered reports stay live (the roll-ups are of the whole organisation): one
    # agent's conversations (about 1/20) and one team's (half of them).
    from apps.accounts.models import Team

    filtered = {}
    for label, key, value in (("agent", "agent", User.objects.get(username="agent03").pk),
                              ("team (half)", "team", Team.objects.order_by("pk").first().pk)):
        fp = report_params_parse(user=supervisor, data={**data, key: str(value)})
        filtered[label] = timed(lambda fp=fp: report_tables(user=supervisor, params=fp), 3)
    from apps.reports.selectors import _report_transaction

    def section_alone(section):
        with _report_transaction():
            section(params)

    per_section = {s.__name__: statistics.median(timed(lambda s=s: section_alone(s), 3)) for s in sections.SECTIONS}

    load = os.getloadavg()
    print(f"\nmessages in the table: {total:,}; in the {DAYS_REPORTED}-day range: {in_range:,}")
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores, shared)")
    print(f"floor  SELECT count(*) over messages: median {statistics.median(floor_times) * 1000:.0f} ms "
          f"(min {min(floor_times) * 1000:.0f} ms)")
    print(f"roll-ups: full rebuild {rollup_full:.1f} s "
          f"({', '.join(f'{name} {n:,}' for name, n in rollup_rows.items())} rows); the periodic refresh "
          f"(last {sections_settle()} of hours, late arrivals) {rollup_incremental:.1f} s")
    med = statistics.median(report_times)
    print(f"report all sections, {DAYS_REPORTED} days: median {med * 1000:.0f} ms (min {min(report_times) * 1000:.0f} ms)"
          f" = {med / statistics.median(floor_times):.1f}x the floor; target < {TARGET_SECONDS:.0f} s: "
          f"{'met' if med < TARGET_SECONDS else 'NOT MET'}")
    print(f"report with business hours: median {statistics.median(hours_times) * 1000:.0f} ms")
    for label, times in filtered.items():
        print(f"report filtered by {label}, live: median {statistics.median(times) * 1000:.0f} ms")
    for name, seconds in sorted(per_section.items(), key=lambda item: -item[1]):
        print(f"  {name:<16} {seconds * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
