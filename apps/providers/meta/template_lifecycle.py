"""A template's life at Meta after its creation: editing its components
(POST /{template-id}), deleting it (DELETE /{waba-id}/message_templates, by name for
every language, or by name and id for one), archiving and unarchiving it
(POST /{waba-id}/message_templates/archive and /unarchive with `hsm_ids`, on the host
Meta serves them from: destinations.archive_url) and reading its status back."""

from __future__ import annotations

from .client import GraphAPIError, GraphClient
from .destinations import Refused, archive_url

# Template ids per archiving call, at most (Meta's reference).
ARCHIVE_BATCH = 100


def template_edit(client: GraphClient, template_id: str, *, components: list) -> None:
    """Replace the template's components; Meta reviews the template again."""
    client.call("POST", template_id, json={"components": components})


def template_delete(
    client: GraphClient, waba_id: str, *, name: str, template_id: str = ""
) -> None:
    """Delete the template `name` of the WABA: the one language of `template_id` when
    given, else every language of that name."""
    params = {"name": name}
    if template_id:
        params["hsm_id"] = template_id
    client.call("DELETE", waba_id, "message_templates", params=params)


def templates_archive(
    client: GraphClient, waba_id: str, template_ids: list[str], *, archive: bool = True
) -> tuple[list[str], dict[str, str]]:
    """Archive (or unarchive) the templates of `template_ids` (at most ARCHIVE_BATCH):
    the ids Meta did it for, and {id: Meta's reason} for the others."""
    ids = [str(i) for i in template_ids][:ARCHIVE_BATCH]
    try:
        url = archive_url(waba_id, "archive" if archive else "unarchive")
    except Refused as exc:
        raise GraphAPIError(f"Refused to call Meta: {exc}", retryable=False) from exc
    answer = client.call_url("POST", url, json={"hsm_ids": ids})
    done = answer.get("archived_templates" if archive else "unarchived_templates") or []
    failed = answer.get("failed_templates") or {}
    return [str(i) for i in done], {str(k): str(v) for k, v in failed.items()} if isinstance(failed, dict) else {}


def template_status(client: GraphClient, template_id: str) -> str:
    """The template's status at Meta now (GET /{template-id}?fields=status)."""
    return str(client.call("GET", template_id, params={"fields": "status"}).get("status") or "")
