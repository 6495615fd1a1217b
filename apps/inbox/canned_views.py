"""The inbox's page of canned responses: every member of the organisation reads,
adds, changes and deletes them (apps.conversations.services.canned)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.conversations import selectors
from apps.conversations.services import canned as canned_services
from apps.core import params


def _page(request, *, error: str = "", draft: dict | None = None, status: int = 200):
    return render(request, "inbox/canned.html", {
        "canned": list(selectors.canned_response_list(user=request.user)),
        "error": error, "draft": draft or {},
    }, status=status)


@login_required
@require_GET
def canned_page(request):
    return _page(request)


@login_required
@require_POST
def canned_save(request):
    try:
        canned_id = params.positive_id(request.POST.get("id"), field="id")
        shortcut = params.text(request.POST.get("shortcut"), field="shortcut", max_length=100)
        body = params.text(request.POST.get("body"), field="body", max_length=canned_services.BODY_MAX + 1)
        canned = canned_services.canned_response_save(user=request.user, shortcut=shortcut, body=body,
                                                      canned_id=canned_id)
    except params.BadParameter as error:
        return _page(request, error=error.message, status=400)
    except ValidationError as error:
        draft = {} if request.POST.get("id") else {"shortcut": request.POST.get("shortcut", ""),
                                                   "body": request.POST.get("body", "")}
        return _page(request, error=" ".join(error.messages), draft=draft, status=422)
    return redirect(f"{reverse('inbox:canned_page')}#canned-{canned.pk}")


@login_required
@require_POST
def canned_delete(request):
    try:
        canned_id = params.positive_id(request.POST.get("id"), field="id", required=True)
    except params.BadParameter as error:
        return _page(request, error=error.message, status=400)
    canned_services.canned_response_delete(user=request.user, canned_id=canned_id)
    return redirect(reverse("inbox:canned_page"))
