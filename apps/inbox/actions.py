"""Composer and conversation actions of the browser inbox (thin htmx views)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.views.decorators.http import require_POST


@login_required
@require_POST
def send_text(request, pk):
    return HttpResponse(status=501)
