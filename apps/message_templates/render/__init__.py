"""A template and its parameters: what the customer will see, and what Meta is sent.

`template_render(template=..., parameters=...)` checks that the number and kind of
the parameters match the template's components and returns a `RenderedTemplate`:
the header, body, footer and buttons exactly as WhatsApp shows them, the plain text
of it all, and the `components` of Meta's `template` send object.

Parameters, one entry per component that takes any:

    {
      "header": ["Ann"] | {"name": "Ann"} | {"link": "https://..."} | {"id": "<Meta media id>"}
                | {"latitude": .., "longitude": .., "name": .., "address": ..},
      "body": ["Ann", "42"]                       # positional {{1}}, {{2}} (or {"1": .., "2": ..})
            | {"first_name": "Ann"},              # named {{first_name}}
      "buttons": {"0": "ORDER-42", "2": "SAVE15"} # by the button's index (or a list in button order)
    }

A value is text (a string or a number) or one of Meta's parameter objects:
`{"type": "currency", "currency": {"fallback_value": "$10.99", "code": "USD", "amount_1000": 10990}}`,
`{"type": "date_time", "date_time": {"fallback_value": "May 1, 2026"}}` or `{"type": "text", "text": ".."}`.
Buttons take: the URL suffix (URL button with {{1}}), the payload (quick reply,
optional), the coupon code (copy code) or the one-time password (OTP).

Beside them, a limited-time offer's expiration, a carousel's cards and the flow and
catalog buttons' values: see parts.py.

Every refusal is a `SendError` whose field names the component and the parameter
("body.2", "header", "buttons[1]").

By concern: structure (placeholders, buttons, slots), parameters (checked and rendered),
prefill (values from the contact and conversation, a sent template rendered back).
"""

from .structure import (  # noqa: F401
    PLACEHOLDER_RE,
    HEADER_MAX,
    BODY_MAX,
    COUPON_MAX,
    OTP_MAX,
    URL_SUFFIX_MAX,
    PAYLOAD_MAX,
    MEDIA_FORMATS,
    AUTH_BODY_TEXT,
    SENDABLE,
    BUILT_COMPONENTS,
    BUILT_HEADER_FORMATS,
    BUILT_BUTTONS,
    BUILT_CARD_HEADER_FORMATS,
    BUILT_CARD_BUTTONS,
    FLOW_TOKEN_MAX,
    OPTIONAL_BUTTONS,
    card_components,
    offer_definition,
    RenderedTemplate,
    _by_type,
    placeholders,
    body_text,
    footer_text,
    template_buttons,
    button_kind,
    button_takes_parameter,
    unsupported_parts,
    slots,
    _examples,
)
from .parameters import (  # noqa: F401
    _error,
    _values,
    _parameter,
    _substitute,
    _media_header,
    _location_header,
    _button_values,
    _button_component,
    template_unsendable_reason,
    template_render,
)
from .prefill import (  # noqa: F401
    CONTACT_FIELDS,
    _source_value,
    mapping_errors,
    template_prefill,
    template_payload_render,
    parameters_from_components,
    template_message_rendered,
)
