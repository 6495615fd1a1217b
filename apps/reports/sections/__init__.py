"""The report's sections (docs/reports.md explains their definitions), by subject: the
shared querysets, tables and helpers (base), activity (summary, volume, messages,
heatmap, opt-outs), responses (response times, agents, the bot) and outbound (delivery,
templates). SECTIONS lists them in the report's order."""

from .base import (  # noqa: F401
    RESOLVED,
    REACHED_META,
    REACHED_PHONE,
    WAS_READ,
    TOP_FAILURES,
    REOPENED,
    RESOLVED_EVENT,
    OPT_ACTIONS,
    Table,
    conversations,
    FEW_CONVERSATIONS,
    _few_conversation_ids,
    _filtered,
    messages,
    audit,
    _duration_stats,
    _conversation_durations,
    _days,
    _opened_by_day,
    _audit_events,
    _shared,
    rolled_until,
    _rolled_until,
    _int,
    _EpochSeconds,
    _fixed_offset,
    _fetch,
    OUTBOUND_COLUMNS,
    _union_sql,
)
from .activity import (  # noqa: F401
    summary,
    message_cube,
    volume,
    AUTHOR_GROUPS,
    _author_group,
    messages_report,
    heatmap,
    opt_outs,
)
from .responses import (  # noqa: F401
    WAIT_LOOKBACK,
    _waiting_sql,
    _waiting_live_sql,
    response_times,
    _agents_sent,
    agents,
    bot,
)
from .outbound import (  # noqa: F401
    outbound_cube,
    STAGES,
    delivery,
    templates,
)

from .business import calls, cost, referrals

SECTIONS = (summary, volume, messages_report, response_times, agents, bot, delivery, templates, cost, calls,
            referrals, heatmap, opt_outs)
