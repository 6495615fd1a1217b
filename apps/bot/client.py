"""The one module that talks to the OpenAI-compatible API (the openai package).

Settings are read on each call (tests change them): OPENAI_API_KEY (or an
organisation's own key), OPENAI_BASE_URL, OPENAI_TIMEOUT. The openai client's own
retries are off; this module retries a timeout, a connection error, a 429 or a 5xx
up to OPENAI_MAX_ATTEMPTS times with exponential backoff, records every request in
the organisation's daily usage, and raises `AIError` saying what went wrong.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    import openai

logger = logging.getLogger(__name__)


class AIError(Exception):
    """The model could not answer. `kind`: not_configured, timeout, rate_limited,
    server, connection, refused (4xx other than 429) or invalid (an answer we
    cannot read)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail

    @property
    def retryable(self) -> bool:
        return self.kind in ("timeout", "rate_limited", "server", "connection")


@dataclass
class ToolCall:
    name: str
    arguments: dict


@dataclass
class AIAnswer:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0


def api_key_for(bot_settings=None) -> str:
    """The key to use: the organisation's own, else OPENAI_API_KEY; "" when none."""
    own = getattr(bot_settings, "api_key", "") if bot_settings is not None else ""
    return own or settings.OPENAI_API_KEY or ""


def is_configured(bot_settings=None) -> bool:
    return bool(api_key_for(bot_settings))


def _client(api_key: str) -> openai.OpenAI:
    # Imported on first use: the openai package is about a third of a process's start
    # (about 1 s of CPU), which every worker paid, and a worker restarted after a crash
    # took that much longer to take its queue back (issue 19).
    import openai

    return openai.OpenAI(
        api_key=api_key,
        base_url=settings.OPENAI_BASE_URL or None,
        timeout=settings.OPENAI_TIMEOUT,
        max_retries=0,
    )


def _classify(exc: Exception) -> AIError:
    import openai

    if isinstance(exc, AIError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return AIError("timeout", _("The AI service did not answer within %(seconds)g s.") % {"seconds": settings.OPENAI_TIMEOUT})
    if isinstance(exc, openai.APIConnectionError):
        return AIError("connection", _("The AI service cannot be reached."))
    if isinstance(exc, openai.RateLimitError):
        return AIError("rate_limited", _("The AI service is rate limiting us (429)."))
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500:
            return AIError("server", _("The AI service failed (%(status)s).") % {"status": exc.status_code})
        return AIError("refused", (_("The AI service refused the request (%(status)s): %(message)s")
                                  % {"status": exc.status_code, "message": exc.message})[:300])
    return AIError("invalid", (_("Unexpected answer from the AI service: %(error)s") % {"error": exc})[:300])


def usage_record(*, organization_id: int, requests: int = 1, prompt_tokens: int = 0, completion_tokens: int = 0,
                 failures: int = 0) -> None:
    """Add to the organisation's usage of today (UTC), one UPDATE (or INSERT)."""
    from .models import BotUsage

    day = timezone.now().date()
    changes = dict(
        requests=F("requests") + requests, prompt_tokens=F("prompt_tokens") + prompt_tokens,
        completion_tokens=F("completion_tokens") + completion_tokens, failures=F("failures") + failures,
    )
    if not BotUsage.objects.filter(organization_id=organization_id, day=day).update(**changes):
        from django.db import IntegrityError, transaction

        try:
            with transaction.atomic():
                BotUsage.objects.create(
                    organization_id=organization_id, day=day, requests=requests, prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens, failures=failures,
                )
        except IntegrityError:  # a concurrent first request of the day
            BotUsage.objects.filter(organization_id=organization_id, day=day).update(**changes)


def _with_retries(organization_id: int, call):
    attempts = max(1, settings.OPENAI_MAX_ATTEMPTS)
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - every failure is classified and counted
            error = _classify(exc)
            usage_record(organization_id=organization_id, failures=1)
            logger.warning("AI request failed (attempt %d/%d): %s", attempt, attempts, error.detail)
            if not error.retryable or attempt == attempts:
                raise error from exc
            time.sleep(settings.OPENAI_RETRY_BASE_DELAY * (2 ** (attempt - 1)))
    raise AssertionError("unreachable")


def chat(*, organization_id: int, messages: list[dict], bot_settings=None, tools: list[dict] | None = None,
         max_tokens: int | None = None) -> AIAnswer:
    """One chat completion. Raises AIError."""
    api_key = api_key_for(bot_settings)
    if not api_key:
        raise AIError("not_configured", _("No OpenAI API key: set OPENAI_API_KEY or the organisation's key."))
    model = (getattr(bot_settings, "model", "") or settings.OPENAI_MODEL)
    kwargs = {"model": model, "messages": messages}
    if bot_settings is not None:
        kwargs["temperature"] = bot_settings.temperature
    if max_tokens or bot_settings is not None:
        kwargs["max_tokens"] = max_tokens or bot_settings.max_reply_tokens
    if tools:
        kwargs["tools"] = tools
    client = _client(api_key)

    def call():
        response = client.chat.completions.create(**kwargs)
        if not response.choices:
            raise AIError("invalid", _("The AI service answered without a choice."))
        message = response.choices[0].message
        calls = []
        for tool_call in message.tool_calls or []:
            function = getattr(tool_call, "function", None)
            if function is None:
                continue
            try:
                arguments = json.loads(function.arguments or "{}")
            except ValueError:
                arguments = {}
            calls.append(ToolCall(name=function.name, arguments=arguments if isinstance(arguments, dict) else {}))
        usage = response.usage
        answer = AIAnswer(
            text=(message.content or "").strip(), tool_calls=calls,
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
        )
        usage_record(organization_id=organization_id, prompt_tokens=answer.prompt_tokens,
                     completion_tokens=answer.completion_tokens)
        return answer

    return _with_retries(organization_id, call)


def embed(*, organization_id: int, texts: list[str], bot_settings=None) -> list[list[float]]:
    """Embeddings of `texts` with OPENAI_EMBEDDING_MODEL. Raises AIError."""
    api_key = api_key_for(bot_settings)
    if not api_key or not settings.OPENAI_EMBEDDING_MODEL:
        raise AIError("not_configured", "Embeddings need an API key and OPENAI_EMBEDDING_MODEL.")
    client = _client(api_key)

    def call():
        response = client.embeddings.create(model=settings.OPENAI_EMBEDDING_MODEL, input=texts)
        vectors = [list(item.embedding) for item in sorted(response.data, key=lambda d: d.index)]
        if len(vectors) != len(texts):
            raise AIError("invalid", "The AI service returned a different number of embeddings.")
        usage_record(organization_id=organization_id, prompt_tokens=getattr(response.usage, "prompt_tokens", 0) or 0)
        return vectors

    return _with_retries(organization_id, call)
