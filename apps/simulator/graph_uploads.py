"""The simulated Resumable Upload API (Graph API reference, "Resumable Upload API").

POST /{app-id}/uploads?file_length=&file_type=&file_name= opens a session and answers
{"id": "upload:<id>?sig=<sig>"}; POST /upload:<id>?sig=<sig> with the header
`file_offset` and the file's bytes from that offset answers {"h": "<handle>"} once the
file is whole; GET /upload:<id>?sig=<sig> answers {"id": ..., "file_offset": n}, the
bytes held, from which an interrupted upload resumes.

As Meta: a file type outside the reference's list, a length that is not a positive
number or a missing parameter answers 100 (131008 for a missing one); an unknown
session or a wrong signature answers 100 with subcode 33 (no such object); an offset
other than the bytes held, or more bytes than the file's length, answers 100. A body
that ends before the file does (a cut connection) is kept, and the answer gives the
offset reached instead of a handle (what Meta holds is read with GET).
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets

from .graph import GraphError, GraphResponse, _graph_view, _param
from .models import SimulatedUpload

FILE_TYPES = ("application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4")
_APP_ID = re.compile(r"[0-9]{1,32}")


def _authorise(request) -> None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _sep, token = header.partition(" ")
    if scheme not in ("OAuth", "Bearer") or not token.strip():
        raise GraphError(190, "An active access token must be used to query information about the current user.",
                         http_status=401)


def _no_object(object_id: str) -> GraphError:
    return GraphError(100, f"Unsupported request. Object with ID '{object_id}' does not exist, cannot be loaded "
                           "due to missing permissions, or does not support this operation.",
                      subcode=33, type="GraphMethodException")


def _session_answer(upload: SimulatedUpload) -> str:
    return f"upload:{upload.session_id}?sig={upload.signature}"


@_graph_view
def uploads(request, object_id):
    """POST /{app-id}/uploads: a new session."""
    _authorise(request)
    if request.method != "POST":
        raise GraphError(100, "Unsupported request.", type="GraphMethodException")
    if not _APP_ID.fullmatch(object_id):
        raise _no_object(object_id)
    missing = [name for name in ("file_length", "file_type") if not request.GET.get(name)]
    if missing:
        raise GraphError(131008, "(#131008) Required parameter is missing", details=", ".join(missing))
    try:
        length = int(request.GET["file_length"])
    except ValueError:
        length = 0
    if length <= 0:
        raise _param("file_length must be the file's size in bytes, a positive number.")
    if request.GET["file_type"] not in FILE_TYPES:
        raise _param(f"file_type must be one of {', '.join(FILE_TYPES)}.")
    token = base64.urlsafe_b64encode(b"1:attachment:" + secrets.token_bytes(18)).decode().rstrip("=")
    upload = SimulatedUpload.objects.create(
        session_id=token, signature=secrets.token_urlsafe(12), app_id=object_id,
        file_type=request.GET["file_type"], file_name=request.GET.get("file_name", "")[:255], file_length=length,
    )
    return GraphResponse({"id": _session_answer(upload)})


@_graph_view
def session(request, object_id):
    """GET or POST /upload:<id>?sig=<sig>."""
    _authorise(request)
    upload = SimulatedUpload.objects.filter(session_id=object_id.removeprefix("upload:")).first()
    if upload is None or not hmac.compare_digest(request.GET.get("sig", ""), upload.signature):
        raise _no_object(object_id)
    held = len(upload.content)
    if request.method == "GET":
        return GraphResponse({"id": _session_answer(upload), "file_offset": held})
    if request.method != "POST":
        raise GraphError(100, "Unsupported request.", type="GraphMethodException")
    if upload.handle:
        return GraphResponse({"h": upload.handle})
    # Meta requires `file_offset`; Django's development server and gunicorn drop header
    # names with an underscore before the simulator sees them, so a missing one is
    # taken as the bytes held (the tests keep the header and check it).
    offset = request.META.get("HTTP_FILE_OFFSET", str(held))
    if offset != str(held):
        raise _param(f"file_offset {offset[:20]} does not match the {held} bytes received: resume from {held}.")
    content = bytes(upload.content) + request.body
    if len(content) > upload.file_length:
        raise _param(f"The file is longer than the file_length of the session ({upload.file_length} bytes).")
    upload.content = content
    fields = ["content"]
    if len(content) == upload.file_length:
        kind = base64.b64encode(upload.file_type.encode()).decode()
        upload.handle = f"4::{kind}:{secrets.token_urlsafe(24)}"
        fields.append("handle")
    upload.save(update_fields=fields)
    if upload.handle:
        return GraphResponse({"h": upload.handle})
    return GraphResponse({"id": _session_answer(upload), "file_offset": len(content)})
