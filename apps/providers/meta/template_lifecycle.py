"""A template's life at Meta after its creation: editing its components
(POST /{template-id}) and deleting it (DELETE /{waba-id}/message_templates, by name for
every language, or by name and id for one)."""

from __future__ import annotations

from .client import GraphClient


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
