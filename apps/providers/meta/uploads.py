"""Meta's Resumable Upload API: a file uploaded for a handle (`h`) that other Graph
calls take, such as a media-header template's example (`example.header_handle`).

Two steps (Graph API reference, "Resumable Upload API"): POST /{app-id}/uploads with
the file's length, type and name opens a session ("upload:<id>?sig=<sig>"); POST
/{session} with the header `file_offset` and the file's bytes from that offset
answers the handle. GET /{session} answers the offset Meta holds, from which an
interrupted upload resumes instead of starting over.
"""

from __future__ import annotations

from .client import GraphAPIError, GraphClient
from .destinations import Refused, upload_session_url

# The file types the Resumable Upload API takes (its reference's list).
FILE_TYPES = ("application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4")


def upload_start(client: GraphClient, app_id: str, *, file_length: int, file_type: str, file_name: str = "") -> str:
    """Open an upload session for a file of `file_length` bytes: its id."""
    params = {"file_length": int(file_length), "file_type": file_type}
    if file_name:
        params["file_name"] = file_name
    answer = client.call("POST", app_id, "uploads", params=params)
    session = answer.get("id")
    try:
        upload_session_url(session)
    except Refused as exc:
        raise GraphAPIError(f"The upload session answer has no usable id: {exc}", retryable=False) from exc
    return session


def upload_offset(client: GraphClient, session: str) -> int:
    """The bytes of the file Meta holds for `session`: where the upload resumes."""
    answer = client.session_call("GET", session)
    try:
        return int(answer.get("file_offset", 0))
    except (TypeError, ValueError) as exc:
        raise GraphAPIError("The upload session's answer has no file_offset", retryable=False) from exc


def upload_send(client: GraphClient, session: str, content: bytes, *, offset: int) -> dict:
    """Send the file's bytes from `offset` (`content` is the whole file): Meta's answer,
    {"h": handle} once the file is whole."""
    return client.session_call("POST", session, body=bytes(content[offset:]),
                               headers={"file_offset": str(int(offset))})


def upload_resume(client: GraphClient, session: str, content: bytes, *, offset: int | None = None,
                  attempts: int = 3) -> str:
    """Finish the upload of `content` in `session` from `offset` (read from Meta when
    None): the file's handle. A failure a retry can help (no answer, a 5xx) resumes
    from the offset Meta then reports, at most `attempts` times in all."""
    if offset is None:
        offset = upload_offset(client, session)
    for attempt in range(max(1, attempts)):
        try:
            answer = upload_send(client, session, content, offset=offset)
        except GraphAPIError as error:
            if not error.retryable or attempt + 1 >= attempts:
                raise
            offset = upload_offset(client, session)
            continue
        if answer.get("h"):
            return str(answer["h"])
        try:  # Meta holds part of the file: the rest from where it stopped
            offset = int(answer.get("file_offset"))
        except (TypeError, ValueError):
            raise GraphAPIError("The upload answer has neither a handle nor a file_offset", retryable=False) from None
    raise GraphAPIError("The upload did not finish", retryable=True)


def upload_file(client: GraphClient, app_id: str, content: bytes, *, file_type: str, file_name: str = "",
                attempts: int = 3) -> str:
    """Upload `content` through a new session of the app `app_id`: its handle."""
    if file_type not in FILE_TYPES:
        raise GraphAPIError(f"Meta's upload takes {', '.join(FILE_TYPES)}, not {file_type!r}", retryable=False)
    session = upload_start(client, app_id, file_length=len(content), file_type=file_type, file_name=file_name)
    return upload_resume(client, session, content, offset=0, attempts=attempts)
