"""A fake Graph API: Meta's paths, request checks, answers and error shapes.

Served under /simulator/graph/<version>/... for everything the client calls: messages (send, mark
read, typing), media (upload, get, download, delete) and message templates (list with paging, create).
It stores what it receives and, once stored, sends status webhooks from a background thread.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import F
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from apps.whatsapp.models import WhatsAppNumber

from . import rows, webhooks
from .accounts import account_wa_id
from .models import SimulatedMedia, SimulatedMessage, SimulatedRequest, SimulatedTemplate, SimulatorConfig

VERSION_RE = re.compile(r"^v\d+\.\d+$")
SEND_TYPES = {"text", "image", "video", "audio", "document", "sticker", "location", "contacts", "interactive",
              "template", "reaction"}
INTERACTIVE_TYPES = {"button", "list", "cta_url", "location_request_message", "flow", "product", "product_list",
                     "call_permission_request", "voice_call"}
TEMPLATE_NAME_RE = re.compile(r"^[a-z0-9_]+$")
PAGE_LIMIT = 25


class GraphResponse(JsonResponse):
    """A JSON answer that keeps its data, so the request log stores it without
    parsing the body it just wrote."""

    def __init__(self, data, **kwargs):
        super().__init__(data, **kwargs)
        self.data = data


class GraphError(Exception):
    def __init__(self, code: int, message: str, *, http_status: int = 400, details: str = "",
                 subcode: int | None = None, type: str = "OAuthException", retry_after: float | None = None):
        super().__init__(message)
        self.code, self.message, self.http_status = code, message, http_status
        self.details, self.subcode, self.type, self.retry_after = details, subcode, type, retry_after

    def response(self) -> JsonResponse:
        error = {
            "message": self.message,
            "type": self.type,
            "code": self.code,
            "fbtrace_id": "SIM" + uuid.uuid4().hex[:20],
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        if self.http_status >= 500 or self.code in (1, 2, 130429):
            error["is_transient"] = True
        response = GraphResponse({"error": error}, status=self.http_status)
        if self.retry_after is not None:
            response["Retry-After"] = str(self.retry_after)
        return response


def _release_db_connection() -> None:
    from django.db import connection

    if (connection.settings_dict.get("OPTIONS") or {}).get("pool") and not connection.in_atomic_block:
        connection.close()


def _param(details: str) -> GraphError:
    return GraphError(100, "(#100) Invalid parameter", details=details)


def _injected_failure(config: SimulatorConfig) -> GraphError | None:
    if config.fail_code is not None and config.fail_count > 0:
        # Conditional decrement: two concurrent requests cannot both take the last one.
        if SimulatorConfig.objects.filter(pk=config.pk, fail_count__gt=0).update(fail_count=F("fail_count") - 1):
            code = config.fail_code
            if code in (1, 2, 131000, 131016, 133004):
                return GraphError(code, "Injected transient error", http_status=500 if code != 131000 else 400)
            if code in (0, 190):
                return GraphError(code, "Error validating access token: Session has expired", http_status=401,
                                  subcode=463 if code == 190 else None)
            if code in (4, 80007, 130429, 131048, 131056):
                return GraphError(code, "Injected rate limit", http_status=429 if code == 130429 else 400,
                                  retry_after=config.retry_after)
            return GraphError(code, "Injected error", details=f"Simulated error {code}")
    roll = random.random()
    if roll < config.error_5xx_rate:
        return GraphError(2, "Service temporarily unavailable", http_status=500, type="OAuthException")
    if roll < config.error_5xx_rate + config.error_429_rate:
        return GraphError(130429, "(#130429) Rate limit hit", http_status=429, retry_after=config.retry_after,
                          details="Cloud API message throughput has been reached.")
    return None


def _token(request) -> str:
    # META itself: request.headers builds a mapping of every header first.
    header = request.META.get("HTTP_AUTHORIZATION", "")
    return header[7:].strip() if header.startswith("Bearer ") else ""


def _authorise(request, number: WhatsAppNumber | None = None) -> None:
    token = _token(request)
    if not token:
        raise GraphError(190, "An active access token must be used to query information about the current user.",
                         http_status=401)
    if number is not None and number.access_token and token != number.access_token:
        raise GraphError(190, "Error validating access token: Session has expired.", http_status=401, subcode=463)


_UNREAD = object()


def _number(phone_number_id: str, request=None) -> WhatsAppNumber:
    number = getattr(request, "simulator_number", _UNREAD)  # read with the settings by _graph_view
    if number is _UNREAD or getattr(number, "phone_number_id", phone_number_id) != phone_number_id:
        number = rows.get_one(WhatsAppNumber, "phone_number_id", phone_number_id)
    if number is None:
        raise GraphError(
            100,
            f"Unsupported post request. Object with ID '{phone_number_id}' does not exist, "
            "cannot be loaded due to missing permissions, or does not support this operation.",
            subcode=33,
            type="GraphMethodException",
        )
    return number


def _json_body(request) -> dict:
    body = getattr(request, "simulator_json", None)  # parsed already by _graph_view
    if body is None:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise _param("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise _param("The request body must be a JSON object.")
    return body


def _graph_view(handler):
    """Version check, failure injection, the error shape, and the request log."""

    @csrf_exempt
    def view(request, version, *args, **kwargs):
        received_at, started = timezone.now(), time.monotonic()
        arrived = request.META.get("simulator.arrived")  # served by simulator_serve: its loop's clock
        if arrived is not None:
            received_at, started = datetime.fromtimestamp(arrived[0], tz=UTC), arrived[1]
        object_id = kwargs.get("object_id", args[0] if args else None)
        edge_name = kwargs.get("edge_name", args[1] if len(args) > 1 else None)
        config = None
        if edge_name in ("messages", "media") and object_id:
            # The settings and the number in one statement (a round trip per call less).
            config, request.simulator_number = rows.read_two_kept(
                (SimulatorConfig, "id", 1), (WhatsAppNumber, "phone_number_id", object_id),
                settings.SIMULATOR_CACHE_SECONDS,
            )
        config = request.simulator_config = config or SimulatorConfig.get()
        # Rows the handler stores go in one statement with the request log (`_store`).
        request.simulator_rows, request.simulator_after = [], []  # after: once the rows are stored
        body = None
        if request.content_type == "application/json":
            try:
                body = json.loads(request.body or b"null")
            except ValueError:
                body = None
            request.simulator_json = body
        try:
            if not VERSION_RE.match(version):
                raise GraphError(2500, f"Unknown path components: /{version}", type="OAuthException")
            failure = _injected_failure(config)
            if failure is not None:
                raise failure
            response = handler(request, *args, **kwargs)
        except GraphError as error:
            response = error.response()
        except Exception:
            rows.store_many(request.simulator_rows)
            raise
        logged = None
        if isinstance(response, GraphResponse):
            logged = response.data
        elif isinstance(response, JsonResponse):
            try:
                logged = json.loads(response.content)
            except ValueError:
                logged = None
        stored = rows.Then(rows.store_begin(request.simulator_rows + [(SimulatedRequest, {
            "method": request.method, "path": request.path[:500], "body": body, "status_code": response.status_code,
            "response": logged, "received_at": received_at,
        })]), request.simulator_after)
        answer_at = request.META.get("simulator.answer_at")
        if answer_at is not None:
            # Served by manage.py simulator_serve (apps/simulator/server.py): the
            # server holds the answer until its time and until the rows are stored,
            # and this thread goes on to the next call.
            answer_at(started + config.latency_ms / 1000, stored)
            return response
        if config.latency_ms:
            # Meta is far away: the answer arrives `latency_ms` after the request.
            # The rows are stored meanwhile. The database connection goes back to
            # its pool (if any) during the wait.
            _release_db_connection()
            pause = config.latency_ms / 1000 - (time.monotonic() - started)
            if pause > 0:
                time.sleep(pause)
        # What the request did is stored before its answer (as at Meta, an answer
        # lost on the way back leaves the message accepted).
        stored()
        return response

    return view


def _store(request, model, **values) -> None:
    """Store a row of `model` with the request's log (one statement), before the answer."""
    queued = getattr(request, "simulator_rows", None)
    if queued is None:
        rows.insert(model, **values)
    else:
        queued.append((model, values))


# -- messages ----------------------------------------------------------------------------
# Meta's business-scoped user id: a country code, a dot, then letters and digits (ENT. for
# a parent id).
_USER_ID = re.compile(r"[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}")

def _check_send(body: dict) -> None:
    kind = body.get("type", "text")
    if kind not in SEND_TYPES:
        raise GraphError(131051, "Unsupported message type", details=f"Message type {kind} is not supported.")
    callback = body.get("biz_opaque_callback_data")
    if callback is not None and (not isinstance(callback, str) or len(callback) > 512):
        raise _param("biz_opaque_callback_data must be a string of at most 512 characters.")
    if "to" not in body and "recipient" in body:  # a business-scoped user id (a username's customer)
        if not _USER_ID.fullmatch(str(body["recipient"])):
            raise GraphError(131009, "(#131009) Parameter value is not valid",
                             details="'recipient' must be a business-scoped user id.")
    elif not str(body.get("to", "")).lstrip("+").isdigit():
        raise GraphError(131009, "(#131009) Parameter value is not valid", details="'to' must be a phone number.")
    content = body.get(kind)
    if not isinstance(content, (dict, list)) or not content and kind != "reaction":
        raise GraphError(131008, "(#131008) Required parameter is missing", details=f"'{kind}' is required.")
    if kind == "text":
        text = content.get("body")
        if not isinstance(text, str) or not text:
            raise GraphError(131008, "(#131008) Required parameter is missing", details="text.body is required.")
        if len(text) > 4096:
            raise _param("text.body is too long: at most 4096 characters.")
    elif kind in ("image", "video", "audio", "document", "sticker"):
        if not content.get("id") and not content.get("link"):
            raise GraphError(131008, "(#131008) Required parameter is missing", details=f"{kind}.id or {kind}.link")
        if "caption" in content and kind not in ("image", "video", "document"):
            raise _param(f"{kind} does not take a caption.")
        if len(content.get("caption", "")) > 1024:
            raise _param("caption is too long: at most 1024 characters.")
        if content.get("id") and not SimulatedMedia.objects.filter(media_id=content["id"], deleted=False).exists():
            raise GraphError(131053, "Media upload error", details=f"Media id {content['id']} not found.")
    elif kind == "location":
        try:
            if not (-90 <= float(content["latitude"]) <= 90 and -180 <= float(content["longitude"]) <= 180):
                raise _param("latitude or longitude out of range.")
        except (KeyError, TypeError, ValueError) as exc:
            raise GraphError(131008, "(#131008) Required parameter is missing", details="latitude, longitude") from exc
    elif kind == "interactive":
        sub = content.get("type")
        if sub not in INTERACTIVE_TYPES:  # the account-bound and calling kinds: graph_commerce, graph_calls
            raise _param("interactive.type is not valid.")
        if len(((content.get("body") or {}).get("text") or "")) > 1024:
            raise _param("interactive.body.text is too long: at most 1024 characters.")
        action = content.get("action") or {}
        if sub == "button":
            buttons = action.get("buttons") or []
            if not 1 <= len(buttons) <= 3:
                raise _param("action.buttons: between 1 and 3 buttons.")
            if any(len(b.get("reply", {}).get("title", "")) > 20 for b in buttons):
                raise _param("button title is too long: at most 20 characters.")
        if sub == "list":
            rows = sum(len(s.get("rows", [])) for s in action.get("sections", []))
            if len(action.get("sections", [])) > 10 or rows > 10 or len(action.get("button", "")) > 20:
                raise _param("list: at most 10 sections and 10 rows; button at most 20 characters.")
    elif kind == "contacts":
        names = [c.get("name") if isinstance(c, dict) else None for c in content]
        if len(content) > 257 or not all(isinstance(n, dict) and n.get("formatted_name") and any(
                n.get(part) for part in ("first_name", "last_name", "middle_name", "suffix", "prefix")) for n in names):
            raise _param("contacts: at most 257, each name with formatted_name and at least one other part.")
    elif kind == "template":
        name = content.get("name")
        if not name or not (content.get("language") or {}).get("code"):
            raise GraphError(131008, "(#131008) Required parameter is missing", details="template name and language")
    elif kind == "reaction":
        if not content.get("message_id"):
            raise GraphError(131008, "(#131008) Required parameter is missing", details="reaction.message_id")


def _messages(request, phone_number_id):
    if request.method != "POST":
        raise GraphError(100, "Unsupported get request.", type="GraphMethodException")
    number = _number(phone_number_id, request)
    _authorise(request, number)
    body = _json_body(request)
    if body.get("messaging_product") != "whatsapp":
        raise _param("messaging_product must be 'whatsapp'.")
    if body.get("status") == "read":
        if not body.get("message_id"):
            raise GraphError(131008, "(#131008) Required parameter is missing", details="message_id")
        SimulatedMessage.objects.filter(wamid=body["message_id"]).update(status="read")
        return GraphResponse({"success": True})
    _check_send(body)
    if body.get("type") == "template":
        _check_template_send(number, body.get("template") or {})
    to = str(body["to"]).lstrip("+") if "to" in body else str(body["recipient"])
    kind = body.get("type", "text")
    wamid = webhooks.new_wamid()
    _store(request, SimulatedMessage, phone_number_id=phone_number_id, customer=to,
           direction=SimulatedMessage.Direction.FROM_BUSINESS, wamid=wamid, type=kind, payload=body)
    config = getattr(request, "simulator_config", None) or SimulatorConfig.get()
    if config.send_status_webhooks:
        statuses = ["sent", "delivered"] + (["read"] if config.mark_read and kind != "reaction" else [])
        pricing = webhooks.pricing(webhooks.pricing_category(number, body))
        bodies = [webhooks.status_body(number, wamid=wamid, status=s, recipient=to, pricing_=pricing,
                                       callback_data=body.get("biz_opaque_callback_data", "")) for s in statuses]
        # Once the message is stored: a send answered 500 (its rows lost) has no statuses.
        request.simulator_after.append(lambda: webhooks.send_later(
            bodies, secret=webhooks.secret_for(number), delay=config.status_delay))
    contact = {"input": body["to"], "wa_id": account_wa_id(number, to)} if "to" in body else {"input": to,
                                                                                              "user_id": to}
    answer = {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]}
    if kind == "template":
        answer["messages"][0]["message_status"] = "accepted"
    return GraphResponse(answer)


# -- media -------------------------------------------------------------------------------
def _media_upload(request, phone_number_id):
    if request.method != "POST":
        raise GraphError(100, "Unsupported get request.", type="GraphMethodException")
    number = _number(phone_number_id, request)
    _authorise(request, number)
    if request.POST.get("messaging_product") != "whatsapp":
        raise _param("messaging_product must be 'whatsapp'.")
    upload = request.FILES.get("file")
    if upload is None:
        raise GraphError(131008, "(#131008) Required parameter is missing", details="file")
    mime_type = request.POST.get("type") or upload.content_type or ""
    if not mime_type:
        raise GraphError(131008, "(#131008) Required parameter is missing", details="type")
    content = upload.read()
    media = SimulatedMedia.objects.create(
        media_id=str(random.randint(10**14, 10**15 - 1)), phone_number_id=phone_number_id, mime_type=mime_type,
        filename=upload.name or "", sha256=hashlib.sha256(content).hexdigest(), content=content,
    )
    return GraphResponse({"id": media.media_id})


def _media_object(request, object_id):
    media = SimulatedMedia.objects.filter(media_id=object_id, deleted=False).first()
    if media is None:
        raise GraphError(100, f"Unsupported {request.method.lower()} request. Object with ID '{object_id}' does not "
                         "exist, cannot be loaded due to missing permissions, or does not support this operation.",
                         subcode=33, type="GraphMethodException")
    number = WhatsAppNumber.objects.filter(phone_number_id=media.phone_number_id).first()
    _authorise(request, number)
    if request.method == "DELETE":
        media.deleted = True
        media.save(update_fields=["deleted"])
        return GraphResponse({"success": True})
    if request.method != "GET":
        raise GraphError(100, "Unsupported request.", type="GraphMethodException")
    url = request.build_absolute_uri(reverse("simulator:media-download", args=[media.media_id]))
    return GraphResponse({
        "messaging_product": "whatsapp", "url": url, "mime_type": media.mime_type, "sha256": media.sha256,
        "file_size": len(media.content), "id": media.media_id,
    })


def media_download(request, media_id):
    """The short-lived media URL: the file, for a request with a bearer token."""
    if not _token(request):
        return HttpResponse(status=401)
    media = SimulatedMedia.objects.filter(media_id=media_id, deleted=False).first()
    if media is None:
        return HttpResponse(status=404)
    number = WhatsAppNumber.objects.filter(phone_number_id=media.phone_number_id).first()
    if number is not None and number.access_token and _token(request) != number.access_token:
        return HttpResponse(status=401)
    response = HttpResponse(bytes(media.content), content_type=media.mime_type)
    response["Content-Length"] = str(len(media.content))
    return response


# -- templates ---------------------------------------------------------------------------
TEMPLATE_STATUS_ERRORS = {
    "PAUSED": (132015, "Template is paused"),
    "DISABLED": (132016, "Template has been disabled"),
}


def _check_template_send(number, content: dict) -> None:
    """Meta's template checks, for the WABAs whose templates the simulator holds (a WABA
    it knows no template of is taken on trust, as in tests that only store ours)."""
    waba_id = getattr(number, "waba_id", "") or ""
    known = SimulatedTemplate.objects.filter(waba_id=waba_id)
    if not waba_id or not known.exists():
        return
    template = known.filter(name=content.get("name"), language=(content.get("language") or {}).get("code")).first()
    if template is None or template.status not in ("APPROVED", *TEMPLATE_STATUS_ERRORS):
        raise GraphError(132001, "(#132001) Template name does not exist in the translation",
                         details=f"template name ({content.get('name')}) does not exist or is not approved")
    if template.status in TEMPLATE_STATUS_ERRORS:
        code, title = TEMPLATE_STATUS_ERRORS[template.status]
        raise GraphError(code, f"(#{code}) {title}")
    body = next((c for c in template.components if str(c.get("type", "")).upper() == "BODY"), {})
    wanted = set(re.findall(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}", body.get("text") or ""))
    if str(template.category).upper() == "AUTHENTICATION" and not body.get("text"):
        wanted = {"1"}
    sent = next((c for c in content.get("components") or [] if c.get("type") == "body"), {})
    if len(sent.get("parameters") or []) != len(wanted):
        raise GraphError(132000, "(#132000) Number of parameters does not match the expected number of params",
                         details=f"body: number of localizable_params ({len(sent.get('parameters') or [])}) does not "
                                 f"match the expected number of params ({len(wanted)})")
    from .graph_template_sends import template_parts_problem

    if (problem := template_parts_problem(template, content)) is not None:
        raise GraphError(problem[0], problem[1], details=problem[2])


def _templates(request, waba_id):
    number = WhatsAppNumber.objects.filter(waba_id=waba_id).first()
    _authorise(request, number)
    if request.method == "POST":
        body = _json_body(request)
        name = body.get("name", "")
        if not TEMPLATE_NAME_RE.match(name or ""):
            raise _param("name: lowercase letters, digits and underscores only.")
        if body.get("category") not in ("AUTHENTICATION", "MARKETING", "UTILITY"):
            raise _param("category must be AUTHENTICATION, MARKETING or UTILITY.")
        if not body.get("language") or not isinstance(body.get("components"), list):
            raise GraphError(131008, "(#131008) Required parameter is missing", details="language, components")
        if SimulatedTemplate.objects.filter(waba_id=waba_id, name=name, language=body["language"]).exists():
            raise GraphError(100, "Invalid parameter", subcode=2388024,
                             details=f"Content in this language already exists for {name}.")
        template = SimulatedTemplate.objects.create(
            meta_id=str(random.randint(10**14, 10**15 - 1)), waba_id=waba_id, name=name, language=body["language"],
            category=body["category"], status="PENDING" if body["category"] == "MARKETING" else "APPROVED",
            parameter_format=body.get("parameter_format", "POSITIONAL"), components=body["components"],
        )
        return GraphResponse({"id": template.meta_id, "status": template.status, "category": template.category})
    if request.method != "GET":
        raise GraphError(100, "Unsupported request.", type="GraphMethodException")
    try:
        limit = max(1, min(int(request.GET.get("limit", PAGE_LIMIT)), 100))
        after = int(request.GET.get("after", 0))
    except ValueError as exc:
        raise _param("limit and after must be numbers.") from exc
    queryset = SimulatedTemplate.objects.filter(waba_id=waba_id, id__gt=after)
    for field in ("name", "status", "category", "language"):
        if request.GET.get(field):
            queryset = queryset.filter(**{field: request.GET[field]})
    page = list(queryset[: limit + 1])
    answer = {"data": [t.as_graph() for t in page[:limit]]}
    if page:
        answer["paging"] = {"cursors": {"before": str(page[0].id), "after": str(page[min(limit, len(page)) - 1].id)}}
    if len(page) > limit:
        params = request.GET.copy()
        params["after"] = str(page[limit - 1].id)
        params["limit"] = str(limit)
        answer["paging"]["next"] = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
    return GraphResponse(answer)


@_graph_view
def edge(request, object_id, edge_name):
    if edge_name == "messages":
        return _messages(request, object_id)
    if edge_name == "media":
        return _media_upload(request, object_id)
    if edge_name == "message_templates":
        return _templates(request, object_id)
    raise GraphError(2500, f"Unknown path components: /{edge_name}")


@_graph_view
def node(request, object_id):
    return _media_object(request, object_id)
