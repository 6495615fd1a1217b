"""The composer's Flow, product and contact-card forms: what they offer is read when
their pop-up opens, not with the page (apps.whatsapp.assets reads the account's
published Flows and connected catalog from Meta, cached), and the card of a contact
the agent may see or of one typed in the form."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from apps.conversations import selectors
from apps.core.errors import SendError
from apps.whatsapp.assets import number_catalog, number_flows

from .presenters import contact_name

CONTACT_MATCHES = 8


@login_required
@require_GET
def flows(request, pk):
    """The account's published Flows, offered by name (or why they could not be read)."""
    conversation = selectors.conversation_get(user=request.user, pk=pk)
    read = number_flows(conversation.number)
    return render(request, "inbox/composer/_flow_choices.html",
                  {"flows": read.value or [], "error": read.error})


@login_required
@require_GET
def catalog(request, pk):
    """The product kinds, offered only when the number's account has a catalog."""
    conversation = selectors.conversation_get(user=request.user, pk=pk)
    read = number_catalog(conversation.number)
    return render(request, "inbox/composer/_catalog_kinds.html", {"catalog": read.value or None, "error": read.error})


@login_required
@require_GET
def contact_search(request, pk):
    """Contacts the agent may see, to share one of them as a card."""
    selectors.conversation_get(user=request.user, pk=pk)
    q = request.GET.get("q", "").strip()
    found = list(selectors.contact_list(user=request.user, q=q)[:CONTACT_MATCHES]) if q else []
    return render(request, "inbox/composer/_contact_matches.html",
                  {"matches": [(c.pk, contact_name(c), c.phone or c.wa_id) for c in found], "q": q})


def contacts_payload(post, *, user) -> dict:
    """One card: a contact of the organisation the agent picked (its name and phone),
    or the one typed (formatted name made from first and last names when not typed)."""
    if post.get("share_contact"):
        try:
            contact = selectors.contact_get(user=user, pk=post["share_contact"])
        except Http404:
            raise SendError("contacts", "not_found", _("That contact is not one you may share.")) from None
        name = contact_name(contact)
        first, _sep, last = name.partition(" ")
        card = {"name": {"formatted_name": name, "first_name": first, **({"last_name": last} if last else {})}}
        phone = contact.phone or contact.wa_id
        if phone:
            card["phones"] = [{"phone": "+" + phone.lstrip("+"), "type": "CELL",
                               **({"wa_id": contact.wa_id} if contact.wa_id else {})}]
        return {"contacts": [card]}
    first, last = post.get("card_first_name", "").strip(), post.get("card_last_name", "").strip()
    formatted = post.get("card_formatted_name", "").strip() or " ".join(p for p in (first, last) if p)
    if not formatted:
        raise SendError("contacts[0].name.formatted_name", "required", _("Give the contact's name, or pick a contact."))
    card = {"name": {"formatted_name": formatted, **({"first_name": first} if first else {}),
                     **({"last_name": last} if last else {})}}
    lists = {"phones": ("phone", "card_phone", "CELL"), "emails": ("email", "card_email", "WORK"),
             "urls": ("url", "card_url", "WORK")}
    for key, (item, field, kind) in lists.items():
        values = [v.strip() for v in post.getlist(field) if v.strip()]
        if values:
            card[key] = [{item: value, "type": kind} for value in values]
    if post.get("card_company", "").strip():
        card["org"] = {"company": post["card_company"].strip()}
    return {"contacts": [card]}
