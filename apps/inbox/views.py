"""The agents' inbox pages. Thin: parse the request, ask a selector or a service, render.

Every read goes through a selector scoped by the user (apps.conversations.selectors;
apps.messaging.selectors for the list's search and the thread); every write
through a service. A conversation or message the user may not see is a 404.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django.views.i18n import set_language

from apps.accounts import services as account_services
from apps.accounts.models import User
from apps.bot.selectors import conversation_assist_unavailable_reason
from apps.conversations import selectors
from apps.conversations import services as conversation_services
from apps.conversations.block_selectors import conversation_blocked_since
from apps.core import params
from apps.messaging.account_health import restriction_for_send, restriction_text
from apps.messaging.selectors import inbox_views
from apps.messaging.selectors import search as search_selectors
from apps.messaging.selectors import thread as thread_selectors
from apps.messaging.services import send as send_services
from apps.messaging.validation import SendError
from apps.realtime import replay

from . import presenters
from .emoji_search import emoji_search


def root(request):
    return redirect("inbox:list")


def organization_time(view):
    """Render the view's dates in the organisation's time zone (the day separators
    already are); the zone is the request's only, never left active for the next one."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        with timezone.override(presenters.zone_of(request.user.organization)):
            return view(request, *args, **kwargs)

    return wrapper


def _filters(request) -> selectors.InboxFilter:
    """The inbox view asked for in the query string; a bad value is a 400 naming it
    (params.BadParameter, or the ValueError of InboxFilter naming its field)."""
    get = request.GET
    return selectors.InboxFilter(
        view=params.text(get.get("view"), field="view") or "all",
        status=params.text(get.get("status"), field="status") or None,
        number_id=params.positive_id(get.get("number"), field="number"),
        label_id=params.positive_id(get.get("label"), field="label"),
        q=params.text(get.get("q"), field="q", max_length=selectors.SEARCH_MAX_LENGTH),
    )


def _sort(request) -> str:
    """The list's order ("newest" unless another of inbox_views.INBOX_SORTS is asked)."""
    sort = params.text(request.GET.get("sort"), field="sort") or "newest"
    if sort not in inbox_views.INBOX_SORTS:
        raise ValueError("sort")
    return sort


def _bad_filter(error: ValueError) -> HttpResponse:
    field = getattr(error, "field", None) or (error.args[0] if error.args else "?")
    return HttpResponseBadRequest(params.invalid_message(field))


def _list_context(request, filters, *, sort="newest", after=None, labels=None) -> dict:
    """The list's rows; `labels`: the organisation's (label_list), when read already."""
    if sort == "newest":
        page = search_selectors.conversation_inbox_page(user=request.user, filters=filters, after=after)
    else:
        page = inbox_views.conversation_inbox_sorted_page(user=request.user, filters=filters, sort=sort, after=after)
    return {
        "filters": filters,
        "sort": sort,
        "filter_query": presenters.filter_query(filters, sort),
        "page": page,
        "rows": presenters.conversation_rows(
            page.conversations, now=timezone.now(),
            labels=selectors.label_list(user=request.user) if labels is None else labels),
    }


def _page_context(request, filters, sort="newest", *, counts: dict | None = None) -> dict:
    """The list page's context; `counts` (inbox_view_counts) when the view has them already."""
    if counts is None:
        counts = inbox_views.inbox_view_counts(user=request.user, filters=filters)
    context = selectors.inbox_sidebar(user=request.user)
    context.update(_list_context(request, filters, sort=sort, labels=context["labels"]))
    context.update(
        views=presenters.view_links(counts),
        sorts=presenters.sort_links(),
        statuses=presenters.status_links(),
        availability_choices=User.Availability.choices,
        unread_mentions=counts["unread_mentions"],
        # The socket's first catch-up starts here: nothing published after the render is missed.
        live_cursor=replay.cursor_now(),
    )
    return context


@login_required
@require_GET
@organization_time
def conversation_list(request):
    try:
        filters, sort = _filters(request), _sort(request)
    except ValueError as error:
        return _bad_filter(error)
    return render(request, "inbox/list_page.html", _page_context(request, filters, sort))


@login_required
@require_GET
@organization_time
def conversation_rows(request):
    """The next page of the list ("load more" and infinite scroll)."""
    try:
        filters = _filters(request)
        context = _list_context(request, filters, sort=_sort(request), after=request.GET.get("after") or None)
    except selectors.InvalidCursor:
        return HttpResponseBadRequest(params.invalid_message("after"))
    except ValueError as error:
        return _bad_filter(error)
    return render(request, "inbox/list/rows.html", context)


@login_required
@require_GET
@organization_time
def conversation_row(request, pk):
    """One row of the list as it should look now in the view described by the query
    string; 204 when the conversation no longer belongs there (or is not visible)."""
    try:
        filters, sort = _filters(request), _sort(request)
    except ValueError as error:
        return _bad_filter(error)
    conversation = search_selectors.conversation_in_view(user=request.user, filters=filters, pk=pk)
    if conversation is None:
        return HttpResponse(status=204)
    rows = presenters.conversation_rows([conversation], now=timezone.now(),
                                        labels=selectors.label_list(user=request.user))
    return render(request, "inbox/list/row.html", {"row": rows[0], "filters": filters,
                                                   "filter_query": presenters.filter_query(filters, sort)})


@login_required
@require_GET
@organization_time
def conversation_detail(request, pk):
    conversation = selectors.conversation_get(user=request.user, pk=pk)
    try:
        filters, sort = _filters(request), _sort(request)
    except ValueError as error:
        return _bad_filter(error)
    try:
        send_services.conversation_mark_read(conversation=conversation, user=request.user)
    except SendError:  # cannot happen for a conversation the selector returned
        raise Http404 from None
    # The notes that mention the agent here are read now: a statement only when any
    # mention of theirs is unread (counted first, with the list's counts).
    counts = inbox_views.inbox_view_counts(user=request.user, filters=filters)
    if counts["unread_mentions"]:
        counts["unread_mentions"] -= conversation_services.mentions_mark_read(
            user=request.user, conversation=conversation)
    thread = thread_selectors.thread_page(conversation=conversation)
    context = _page_context(request, filters, sort, counts=counts)
    now = timezone.now()
    context.update(
        _title_context(conversation, now=now),
        user=request.user,
        thread=presenters.thread_entries(thread.items, organization=request.user.organization,
                                         blocked_since=conversation_blocked_since(conversation=conversation)),
        thread_before=thread.before,
        restriction=_restriction(conversation, now=now),
        # Why "Suggest reply" and "Summarise" cannot answer here (no AI), or None.
        assist_unavailable=conversation_assist_unavailable_reason(conversation=conversation),
        emoji_everyday=emoji_search("", language=request.LANGUAGE_CODE),
    )
    return render(request, "inbox/conversation_page.html", context)


def _title_context(conversation, *, now) -> dict:
    return {
        "conversation": conversation,
        "contact": conversation.contact,
        "window_open": conversation.window_open(now),
        "window_closes_at": conversation.window_expires_at,
    }


def _restriction(conversation, *, now) -> str:
    """Why WhatsApp's restriction of the account refuses this conversation's sends now, or ""."""
    restriction = restriction_for_send(conversation.number, window_open=conversation.window_open(now), now=now)
    return restriction_text(restriction) if restriction else ""


@login_required
@require_GET
@organization_time
def conversation_title(request, pk):
    """The thread's title (name, status, window) as it is now: live updates swap it."""
    conversation = selectors.conversation_get(user=request.user, pk=pk)
    return render(request, "inbox/thread/title.html", _title_context(conversation, now=timezone.now()))


@login_required
@require_POST
def conversation_read(request, pk):
    """The agent has the conversation open while a new message, or a note that mentions
    them, arrives: it is read."""
    conversation = selectors.conversation_get(user=request.user, pk=pk)
    try:
        count = send_services.conversation_mark_read(conversation=conversation, user=request.user)
    except SendError:
        raise Http404 from None
    conversation_services.mentions_mark_read(user=request.user, conversation=conversation)
    return HttpResponse(str(count), content_type="text/plain")


@login_required
@require_GET
@organization_time
def message_older(request, pk):
    """Older messages of a conversation (scrolling up), keyset-paginated."""
    conversation = selectors.conversation_get(user=request.user, pk=pk)
    before = request.GET.get("before")
    if not before:
        return HttpResponseBadRequest(params.invalid_message("before"))
    try:
        thread = thread_selectors.thread_page(conversation=conversation, before=before)
    except selectors.InvalidCursor:
        return HttpResponseBadRequest(params.invalid_message("before"))
    return render(request, "inbox/thread/older.html", {
        "conversation": conversation,
        "thread": presenters.thread_entries(thread.items, organization=request.user.organization,
                                            blocked_since=conversation_blocked_since(conversation=conversation)),
        "thread_before": thread.before,
    })


@login_required
@require_GET
@organization_time
def message_partial(request, message_id):
    """One message as the thread shows it: the page and live updates both use it; 204
    for a message the thread leaves out (the business's reaction, shown under its message)."""
    message = thread_selectors.thread_message_get(user=request.user, message_id=message_id)
    if message.thread_hidden:
        return HttpResponse(status=204)
    return render(request, "inbox/thread/message.html", {
        "message": message, "user": request.user,
        "view": presenters.message_view(
            message, blocked_since=conversation_blocked_since(conversation=message.conversation)),
    })


@login_required
@require_GET
@organization_time
def message_history(request, message_id):
    message = thread_selectors.thread_message_get(user=request.user, message_id=message_id)
    return render(request, "inbox/thread/history.html", {"message": message,
                                                         "history": presenters.edit_history(message)})


@login_required
@require_GET
@organization_time
def note_partial(request, note_id):
    note = selectors.note_get(user=request.user, note_id=note_id)
    return render(request, "inbox/thread/note.html", {"note": note})


@login_required
@require_POST
@organization_time
def message_retry(request, message_id):
    message = thread_selectors.thread_message_get(user=request.user, message_id=message_id)
    error = None
    try:
        message = send_services.message_retry(message=message, user=request.user)
    except SendError as exc:
        error = exc.message
    if request.htmx:
        message = thread_selectors.thread_message_get(user=request.user, message_id=message_id)
        if message.thread_hidden:  # a reaction on its way again: its bubble goes
            return HttpResponse("")
        response = render(request, "inbox/thread/message.html", {
            "message": message, "view": presenters.message_view(message), "user": request.user,
            "retry_error": error,
        })
        return response
    if error:
        flash.error(request, error)
    return redirect(reverse("inbox:conversation", args=[message.conversation_id]) + f"#m{message.pk}")


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.META.get("HTTP_REFERER") or fallback
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return fallback


@login_required
@require_POST
def availability(request):
    value = request.POST.get("availability", "")
    try:
        account_services.user_set_availability(user=request.user, availability=value)
    except ValidationError:
        return HttpResponseBadRequest(params.invalid_message("availability"))
    if request.htmx:
        return render(request, "inbox/availability.html", {
            "availability_choices": User.Availability.choices, "user": request.user,
        })
    return redirect(_safe_next(request, reverse("inbox:list")))


@require_POST
def language(request):
    """Django's set_language (stores the choice in a cookie and, signed in, the session)."""
    return set_language(request)


@login_required
@require_GET
def emoji_picker(request):
    """The composer's emoji matching ?q= by name (the everyday set when empty)."""
    try:
        q = params.text(request.GET.get("q"), field="q", max_length=60)
    except ValueError as error:
        return _bad_filter(error)
    return render(request, "inbox/composer/_emoji.html",
                  {"emoji": emoji_search(q, language=request.LANGUAGE_CODE)})
