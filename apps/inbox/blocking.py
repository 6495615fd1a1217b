"""The side panel's block and unblock of the customer on the conversation's number.

Thin htmx views over apps.conversations.services.contact_block / contact_unblock
(supervisors and admins); a refusal re-renders the contact panel with the reason in
clear words and status 422 (403 for who may not)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.conversations import selectors, services

from .actions import _contact_panel, _errors


@login_required
@require_POST
def block(request, pk):
    conversation = selectors.conversation_get(user=request.user, pk=pk)
    if request.POST.get("confirm") != "yes":
        return _contact_panel(
            request, conversation, errors=[_("Confirm the block first.")], status=422
        )
    try:
        services.contact_block(
            conversation=conversation,
            actor=request.user,
            reason=request.POST.get("reason", "").strip(),
        )
    except PermissionDenied as exc:
        return _contact_panel(request, conversation, errors=_errors(exc), status=403)
    except ValidationError as exc:
        return _contact_panel(request, conversation, errors=_errors(exc), status=422)
    return _contact_panel(request, conversation)


@login_required
@require_POST
def unblock(request, pk):
    conversation = selectors.conversation_get(user=request.user, pk=pk)
    try:
        services.contact_unblock(conversation=conversation, actor=request.user)
    except PermissionDenied as exc:
        return _contact_panel(request, conversation, errors=_errors(exc), status=403)
    except ValidationError as exc:
        return _contact_panel(request, conversation, errors=_errors(exc), status=422)
    return _contact_panel(request, conversation)
