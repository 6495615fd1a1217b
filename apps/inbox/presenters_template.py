"""What the thread shows of a sent template, from the rendering stored with the message
(`content["rendered"]`, message_templates' RenderedTemplate.as_content). No queries."""

from __future__ import annotations


def template_view(message) -> dict:
    """A sent template as the thread shows it: name, language, header, body, footer,
    button labels, and a limited-time offer's line and a carousel's cards where it had them."""
    content = message.content or {}
    rendered = content.get("rendered") if isinstance(content.get("rendered"), dict) else {}
    language = content.get("language")
    if isinstance(language, dict):
        language = language.get("code", "")
    buttons = []
    for button in rendered.get("buttons") or []:
        buttons.append(button.get("text", "") if isinstance(button, dict) else str(button))
    offer = rendered.get("offer") if isinstance(rendered.get("offer"), dict) else None
    return {
        "name": content.get("name", ""),
        "language": language or "",
        "header": rendered.get("header", "") if isinstance(rendered.get("header"), str) else "",
        "body": rendered.get("body") or message.text,
        "footer": rendered.get("footer", ""),
        "buttons": [b for b in buttons if b],
        "offer": {"text": str(offer.get("text") or ""), "expires_at": str(offer.get("expires_at") or "")}
        if offer else None,
        "cards": _template_cards(rendered.get("cards")),
    }


def _template_cards(cards) -> list[dict]:
    """A sent carousel's cards as the customer saw them: media kind, body, button labels."""
    shown = []
    for card in cards if isinstance(cards, list) else []:
        if not isinstance(card, dict):
            continue
        labels = [b.get("text", "") if isinstance(b, dict) else str(b) for b in card.get("buttons") or []]
        shown.append({"header_format": str(card.get("header_format") or "").lower(),
                      "body": str(card.get("body") or ""), "buttons": [label for label in labels if label]})
    return shown
