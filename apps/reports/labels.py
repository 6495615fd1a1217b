"""Human labels of the report's column and metric keys (the keys stay stable in CSV
and JSON; the page shows these)."""

from django.utils.translation import gettext_lazy as _

LABELS = {
    "metric": _("Metric"), "value": _("Value"), "count": _("Count"), "rate": _("Rate"),
    "conversations_opened": _("Conversations opened"), "conversations_resolved": _("Conversations resolved"),
    "conversations_reopened": _("Conversations reopened"), "open_now": _("Open now"),
    "unassigned_now": _("Unassigned now"), "unattended_now": _("Unattended now (no agent reply yet)"),
    "day": _("Day"), "opened": _("Opened"), "resolved": _("Resolved"), "received": _("Received"), "sent": _("Sent"),
    "direction": _("Direction"), "type": _("Type"), "author": _("Author"),
    "customer": _("Customer"), "agent": _("Agent"), "bot": _("Bot"), "template": _("Template"),
    "notification": _("Notification"), "system": _("System"), "integration": _("Business system"),
    "total": _("Total"),
    "first_response": _("First response"), "customer_waiting": _("Customer waiting between replies"),
    "resolution": _("Resolution"),
    "median_seconds": _("Median"), "p90_seconds": _("90th percentile"), "average_seconds": _("Average"),
    "median_business_seconds": _("Median (business hours)"), "p90_business_seconds": _("90th percentile (business hours)"),
    "average_business_seconds": _("Average (business hours)"),
    "agent_id": _("Id"), "conversations_handled": _("Conversations handled"), "messages_sent": _("Messages sent"),
    "median_first_response_seconds": _("Median first response"),
    "median_resolution_seconds": _("Median resolution"),
    "median_first_response_business_seconds": _("Median first response (business hours)"),
    "median_resolution_business_seconds": _("Median resolution (business hours)"),
    "bot_conversations": _("Conversations with the bot"), "contained": _("Resolved without a human"),
    "handed_off": _("Handed off to a human"),
    "stage": _("Stage"), "share_of_total": _("Share of all sent"), "delivered": _("Delivered"), "read": _("Read"),
    "failed": _("Failed"), "pending": _("Pending"),
    "code": _("Code"), "title": _("Title"),
    "language": _("Language"), "category": _("Category"), "notifications": _("Of which notifications"),
    "iso_weekday": _("Weekday"), "hour": _("Hour"), "messages": _("Messages"),
    "opted_out": _("Opted out"), "opted_in": _("Opted in"), "marketing_stopped": _("Stopped marketing"),
    "marketing_resumed": _("Resumed marketing"),
    "pricing_type": _("Pricing type"), "billable": _("Billable"), "estimated_cost": _("Estimated cost"),
    "currency": _("Currency"), "number": _("Number"), "call_direction": _("Call direction"),
    "outcome": _("Outcome"), "duration_seconds": _("Duration"), "source_type": _("Source"),
    "source_id": _("Source id"), "headline": _("Headline"), "source_url": _("Link"),
    "conversations": _("Conversations"), "contacts": _("Contacts"),
}
DURATION_COLUMNS = {
    "median_seconds", "p90_seconds", "average_seconds", "median_business_seconds", "p90_business_seconds",
    "average_business_seconds", "median_first_response_seconds", "median_resolution_seconds",
    "median_first_response_business_seconds", "median_resolution_business_seconds", "duration_seconds",
}
