"""The Graph API client: the one module that talks to Meta (or the simulator).

JSON calls (sending one message, read receipts, templates, media info), uploads and
media downloads go through the process's aiohttp session (http.py: one event loop
thread per process, kept-alive connections, proxies from the environment). A send
worker's batches go out from the process's sender loop instead
(`send_message_call`, `answer`, `sender()`: transport.py). Explicit timeouts on
every call (connecting and reading apart), the base URL and version read from
settings (GRAPH_API_BASE, GRAPH_API_VERSION). Every failure is raised as
`GraphAPIError`, which says whether a retry can help (`retryable`, with Meta's
Retry-After in `retry_after`), whether Meta may have the request (`read_timeout`),
whether the number may not send now (`pauses_number`: its sending is paused) and
whether the number's token is the problem (`token_error`: the client sends
signals.token_refused, on which the domain alerts the organisation's admins). The
token is sent only where destinations.py allows (the Graph origin, Meta's media
hosts), to paths built from checked ids; redirects are never followed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import aiohttp
from django.conf import settings

from . import errors, http, transport
from .destinations import (
    Refused,
    graph_url,
    paging_url,
    token_allowed,
    upload_session_url,
)
from .parser import media_id_valid
from .signals import token_refused

logger = logging.getLogger(__name__)

USER_AGENT = http.USER_AGENT

_Answer = http.Answer  # what error handling reads of an answer


def _failed(exc: http.Failure, what: str = "calling the Graph API") -> GraphAPIError:
    """The GraphAPIError of a call that got no answer (retryable; `read_timeout` when
    the request was sent: Meta may have it)."""
    if isinstance(exc, http.ConnectTimeout | http.ReadTimeout):
        return GraphAPIError(f"Timed out {what}: {exc}", retryable=True, read_timeout=exc.read_timeout)
    return GraphAPIError(f"Could not reach the Graph API: {exc}" if what == "calling the Graph API"
                         else f"Could not finish {what}: {exc}", retryable=True)


def _form(data: dict | None, files: dict | None) -> aiohttp.FormData:
    """A multipart body of `data`'s fields and `files` ({name: (filename, file, type)})."""
    form = aiohttp.FormData()
    for name, value in (data or {}).items():
        form.add_field(name, str(value))
    for name, (filename, fileobj, content_type) in (files or {}).items():
        content = fileobj.read() if hasattr(fileobj, "read") else fileobj
        form.add_field(name, content, filename=filename, content_type=content_type)
    return form


class GraphAPIError(Exception):
    """A failed Graph API call, with Meta's error fields and what it means for a retry."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        title: str = "",
        details: str = "",
        fbtrace_id: str = "",
        http_status: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        token_error: bool | None = None,
        read_timeout: bool = False,
        answer: dict | None = None,
    ):
        super().__init__(message)
        # The whole JSON answer that carried the error: some calls answer a refusal with
        # more than the error (the Block Users API names each user it refused).
        self.answer = answer if isinstance(answer, dict) else {}
        # The request was sent and no answer came in time: Meta may have accepted it.
        self.read_timeout = read_timeout
        self.message = message
        self.code = code
        self.subcode = subcode
        self.title = title or errors.describe(code)
        self.details = details
        self.fbtrace_id = fbtrace_id
        self.http_status = http_status
        kind = errors.classify(code, http_status=http_status)
        self.retryable = (kind is errors.Kind.TRANSIENT) if retryable is None else retryable
        self.token_error = (kind is errors.Kind.TOKEN) if token_error is None else token_error
        # The number or its account may not send now: its sending is paused (errors.Kind.PAUSE).
        self.pauses_number = kind is errors.Kind.PAUSE and not self.retryable
        self.retry_after = retry_after

    def __str__(self):
        return f"({self.code}) {self.message}" if self.code is not None else self.message

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "subcode": self.subcode,
            "title": self.title,
            "message": self.message,
            "details": self.details,
            "fbtrace_id": self.fbtrace_id,
            "http_status": self.http_status,
            "retryable": self.retryable,
            "token_error": self.token_error,
            "pauses_number": self.pauses_number,
        }

    @classmethod
    def from_response(cls, response) -> GraphAPIError:
        """From an answer of 400 or more (anything with status_code, headers and json())."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = body.get("error") if isinstance(body, dict) else None
        retry_after = _retry_after(response)
        if not isinstance(error, dict):
            return cls(
                f"HTTP {response.status_code} from the Graph API",
                http_status=response.status_code,
                retry_after=retry_after,
            )
        code = _int_or_none(error.get("code"))
        error_data = error.get("error_data") or {}
        details = error_data.get("details", "") if isinstance(error_data, dict) else str(error_data)
        transient = None
        if error.get("is_transient") is True:
            transient = True
        return cls(
            str(error.get("message") or f"HTTP {response.status_code}"),
            code=code,
            subcode=_int_or_none(error.get("error_subcode")),
            title=str(error.get("error_user_title") or error.get("title") or ""),
            details=str(details or ""),
            fbtrace_id=str(error.get("fbtrace_id") or ""),
            http_status=response.status_code,
            retryable=transient,
            retry_after=retry_after,
            answer=body,
        )


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _retry_after(response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _json_dumps(data) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


class GraphClient:
    """The Graph API as seen by one WhatsApp number (its token, its phone number id)."""

    def __init__(self, number):
        self.number = number
        self.token = number.access_token or ""
        self.timeout = settings.GRAPH_API_TIMEOUT

    # -- plumbing ---------------------------------------------------------------------
    def _headers(self, url: str) -> dict:
        """The headers of a call to `url`, which carry the token: refused (GraphAPIError,
        not retryable) unless the token may go there."""
        if not token_allowed(url):
            raise GraphAPIError(f"Refused to send the access token to {url[:200]!r}: not the Graph API's "
                                "origin nor one of Meta's media hosts", retryable=False)
        return {"Authorization": f"Bearer {self.token}", "User-Agent": USER_AGENT}

    def _url(self, *segments) -> str:
        try:
            return graph_url(*segments)
        except Refused as exc:
            raise GraphAPIError(f"Refused to call the Graph API: {exc}", retryable=False) from exc

    def _request(self, method: str, path: tuple, *, json: dict | None = None, params: dict | None = None,
                 url: str | None = None, **kwargs) -> dict:
        """Call the Graph API's `path` (segments, each checked), or `url` when given
        (a paging link, checked by the caller)."""
        url = url or self._url(*path)
        if kwargs:  # multipart (uploads): data= fields and files=
            return self._answer(self._request_multipart(method, url, **kwargs))
        if params:
            from urllib.parse import urlencode

            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        url, headers, body = self._prepare(url, json)
        return self._answer(self._raw(method, url, headers, body))

    def _prepare(self, url: str, json: dict | None) -> tuple[str, dict, bytes | None]:
        headers = self._headers(url)
        body = None
        if json is not None:
            body = _json_dumps(json)
            headers["Content-Type"] = "application/json"
        return url, headers, body

    def _raw(self, method: str, url: str, headers: dict, body: bytes | None) -> _Answer:
        """One JSON call through the process's aiohttp session: the answer, whatever its status."""
        try:
            return http.request(method, url, headers=headers, data=body, timeout=self.timeout)
        except http.Failure as exc:
            raise _failed(exc) from exc

    def _call(self, method: str, url: str, headers: dict, body: bytes | None):
        """The same call as `_raw`, as a function of the sender loop's pool returning
        an awaitable (`apps.providers.meta.transport`): it gives the answer, whatever its
        status, or raises GraphAPIError when there is none (`read_timeout` when Meta
        had the request: no answer in time, or one cut off). Through a proxy, the call
        is `_raw` in a thread of the loop's pool (its own connections do not proxy)."""
        timeout = self.timeout

        async def call(pool):
            if http.proxied(url):
                return await pool.run_blocking(self._raw, method, url, headers, body)
            try:
                raw = await pool.request(method, url, headers, body, connect_timeout=timeout, read_timeout=timeout)
            except transport.ReadTimeout as exc:
                raise GraphAPIError(f"Timed out calling the Graph API: {exc}", retryable=True,
                                    read_timeout=True) from exc
            except transport.AnswerLost as exc:  # Meta had the request: it may have accepted it
                raise GraphAPIError(f"The Graph API's answer was lost: {exc}", retryable=True,
                                    read_timeout=True) from exc
            except transport.ConnectTimeout as exc:  # Meta never had the request
                raise GraphAPIError(f"Timed out calling the Graph API: {exc}", retryable=True) from exc
            except transport.TransportError as exc:
                raise GraphAPIError(f"Could not reach the Graph API: {exc}", retryable=True) from exc
            return _Answer(raw.status_code, raw.headers, raw.content)

        return call

    def answer(self, raw: _Answer) -> dict:
        """What `_request` makes of an answer: its JSON, or the GraphAPIError it
        means (a token error sends token_refused, whose receiver alerts the
        organisation's admins: database work, so this runs in the caller's thread,
        not in the sender loop)."""
        return self._answer(raw)

    def _request_multipart(self, method: str, url: str, *, data: dict | None = None, files: dict | None = None):
        headers = self._headers(url)
        try:
            return http.request(method, url, headers=headers, data=_form(data, files), timeout=self.timeout)
        except http.Failure as exc:
            raise _failed(exc) from exc

    def _answer(self, response) -> dict:
        if response.status_code >= 400:
            error = GraphAPIError.from_response(response)
            if error.token_error:
                token_refused.send(sender=GraphClient, number=self.number, error=error)
            raise error
        try:
            data = response.json()
        except ValueError as exc:
            raise GraphAPIError(
                "The Graph API answered with something that is not JSON",
                http_status=response.status_code,
                retryable=True,
            ) from exc
        return data if isinstance(data, dict) else {"data": data}

    # -- messages ---------------------------------------------------------------------
    def send_message(self, payload: dict) -> dict:
        """POST /{phone-number-id}/messages; `payload` without messaging_product is completed."""
        body = {"messaging_product": "whatsapp", **payload}
        return self._request("POST", (self.number.phone_number_id, "messages"), json=body)

    def send_message_call(self, payload: dict):
        """`send_message` as a call for the sender loop (`sender().schedule`): its
        result is the raw answer, which `answer()` turns into send_message's result
        or error."""
        body = {"messaging_product": "whatsapp", **payload}
        url, headers, data = self._prepare(self._url(self.number.phone_number_id, "messages"), body)
        return self._call("POST", url, headers, data)

    def mark_read(self, wamid: str, typing: bool = False) -> dict:
        body = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
        if typing:
            body["typing_indicator"] = {"type": "text"}
        return self._request("POST", (self.number.phone_number_id, "messages"), json=body)

    # -- media ------------------------------------------------------------------------
    def upload_media(self, fileobj, *, mime_type: str, filename: str) -> str:
        data = self._request(
            "POST",
            (self.number.phone_number_id, "media"),
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (filename, fileobj, mime_type)},
        )
        media_id = data.get("id")
        if not media_id:
            raise GraphAPIError("The media upload answer has no id", retryable=False)
        return str(media_id)

    def _media_path(self, media_id) -> str:
        if not media_id_valid(media_id):
            raise GraphAPIError(f"Refused to call the Graph API: {str(media_id)[:200]!r} is not a media id",
                                retryable=False)
        return str(media_id)

    def get_media(self, media_id: str) -> dict:
        data = self._request("GET", (self._media_path(media_id),))
        return {
            "url": data.get("url", ""),
            "mime_type": data.get("mime_type", ""),
            "sha256": data.get("sha256", ""),
            "file_size": data.get("file_size"),
            "id": data.get("id", str(media_id)),
        }

    def download_media(self, url: str, *, authorize: bool = True) -> http.Streamed:
        """Stream the file at Meta's short-lived media URL: an answer whose body the
        caller reads with `iter_content` (or `content`) and closes. The token goes
        only where `token_allowed` says (else GraphAPIError, not retryable), and not
        at all with `authorize=False` (a redirect's target); redirects are not
        followed: the caller checks where one leads (apps.media.download)."""
        headers = self._headers(url) if authorize else {"User-Agent": USER_AGENT}
        try:
            response = http.stream("GET", url, headers=headers, timeout=self.timeout)
        except http.Failure as exc:
            raise _failed(exc, "downloading media") from exc
        if response.status_code >= 400:
            try:
                error = GraphAPIError.from_response(_Answer(response.status_code, response.headers, response.content))
            except http.Failure:
                error = GraphAPIError(f"HTTP {response.status_code} from the Graph API",
                                      http_status=response.status_code)
            finally:
                response.close()
            if error.token_error:
                token_refused.send(sender=GraphClient, number=self.number, error=error)
            raise error
        return response

    def delete_media(self, media_id: str) -> dict:
        return self._request("DELETE", (self._media_path(media_id),))

    # -- templates --------------------------------------------------------------------
    def list_templates(self, waba_id: str, **params) -> Iterator[dict]:
        """Every template of the WABA, following paging.next until it is absent."""
        data = self._request("GET", (waba_id, "message_templates"), params=params or None)
        while True:
            yield from data.get("data", [])
            next_url = (data.get("paging") or {}).get("next")
            if not next_url:
                return
            try:
                next_url = paging_url(next_url)
            except Refused as exc:
                raise GraphAPIError(f"Refused to follow the templates' paging: {exc}", retryable=False) from exc
            data = self._request("GET", (), url=next_url)

    def create_template(self, waba_id: str, payload: dict) -> dict:
        return self._request("POST", (waba_id, "message_templates"), json=payload)

    # -- any other Graph call (the modules beside this one build on it) ----------------
    def call(self, method: str, *segments, json: dict | None = None, params: dict | None = None) -> dict:
        """One JSON call to the Graph path of `segments` (each checked): its answer,
        or GraphAPIError."""
        return self._request(method, tuple(segments), json=json, params=params)


    def call_url(self, method: str, url: str, *, json: dict | None = None) -> dict:
        """One JSON call to `url`, built by destinations.py (never one read from an
        answer): its answer, or GraphAPIError; the token goes only where
        token_allowed says."""
        return self._request(method, (), url=url, json=json)

    def session_call(self, method: str, session: str, *, body: bytes | None = None,
                     headers: dict | None = None) -> dict:
        """One call to a Resumable Upload API session ("upload:<id>?sig=<sig>", as
        POST /{app-id}/uploads answered it; refused unless it has that shape:
        destinations.upload_session_url). The token goes as `OAuth <token>`, as
        Meta's upload reference writes it; `body` is sent as it is."""
        try:
            url = upload_session_url(session)
        except Refused as exc:
            raise GraphAPIError(f"Refused to call the Graph API: {exc}", retryable=False) from exc
        sent = {**self._headers(url), "Authorization": f"OAuth {self.token}", **(headers or {})}
        return self._answer(self._raw(method, url, sent, body))


def client_for(number) -> GraphClient:
    return GraphClient(number)


def sender() -> transport.Sender:
    """The process's sender loop: SEND_CONCURRENCY calls in flight at most."""
    return transport.sender(max(1, settings.SEND_CONCURRENCY), http.ca_bundle())
