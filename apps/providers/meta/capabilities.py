"""What Meta's Cloud API lets a business do, as this code enforces it.

One place for the provider's rules that the domain checks before it sends: the
24-hour customer service window (conversations' `window_open`), the media kinds, the
file types each accepts and its size limit (media's `detect.check_upload`), the
largest file a customer can send (the mirror of customers' files), which kinds carry a caption, and the interactive types sending
accepts (messaging's `validation.build_payload`; the composer offers each of them, the
product kinds where a catalog is connected; the calling kinds are calls.py's). The message limits on text lengths stay beside the validation that applies
them (apps/messaging/validation.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType

KB = 1024
MB = 1024 * 1024


@dataclass(frozen=True)
class Capabilities:
    # Approved templates can be sent, also when the window is closed (the only
    # thing that can be then).
    templates: bool
    # Since the customer's last message, free-form messages may be sent this long.
    customer_service_window: timedelta
    # Reactions to a message can be sent (and received).
    reactions: bool
    # The `interactive.type` values sending accepts.
    interactive_types: tuple[str, ...]
    # Media kind -> the MIME types it accepts (the kinds in Meta's order).
    media_types: Mapping[str, frozenset[str]]
    # Media kind -> the largest file, in bytes.
    media_size_limits: Mapping[str, int]
    # An animated sticker's own limit, in bytes (a static one: media_size_limits).
    animated_sticker_size_limit: int
    # The largest file a customer's message can bring, whatever its kind, in bytes: the
    # limits above are what a business may send; Meta delivers customers' files up to
    # this size (a larger one arrives as an error instead of a media id).
    inbound_media_size_limit: int
    # The media kinds that take a caption.
    caption_kinds: tuple[str, ...]

    @property
    def media_kinds(self) -> tuple[str, ...]:
        return tuple(self.media_types)


_DOC, _XLS, _PPT = "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"
_OPENXML = "application/vnd.openxmlformats-officedocument."
_DOCX = _OPENXML + "wordprocessingml.document"
_XLSX = _OPENXML + "spreadsheetml.sheet"
_PPTX = _OPENXML + "presentationml.presentation"

CAPABILITIES = Capabilities(
    templates=True,
    customer_service_window=timedelta(hours=24),
    reactions=True,
    interactive_types=("button", "list", "cta_url", "location_request_message", "flow", "product", "product_list",
                       "call_permission_request", "voice_call"),
    media_types=MappingProxyType({
        "image": frozenset({"image/jpeg", "image/png"}),
        "video": frozenset({"video/mp4", "video/3gpp"}),
        "audio": frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}),
        "document": frozenset({"application/pdf", "text/plain", _DOC, _DOCX, _XLS, _XLSX, _PPT, _PPTX}),
        "sticker": frozenset({"image/webp"}),
    }),
    media_size_limits=MappingProxyType({
        "image": 5 * MB, "video": 16 * MB, "audio": 16 * MB, "document": 100 * MB, "sticker": 100 * KB,
    }),
    animated_sticker_size_limit=500 * KB,
    inbound_media_size_limit=100 * MB,
    caption_kinds=("image", "video", "document"),
)
