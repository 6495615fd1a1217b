"""Every kind of message the send accepts: (kind, payload given, content stored and sent),
shared by the send's tests and the cost of a send of each kind."""

CASES = [
    ("text", {"body": "Hello"}, {"body": "Hello", "preview_url": False}),
    ("image", {"link": "https://x.test/a.jpg", "caption": "Look"}, {"link": "https://x.test/a.jpg", "caption": "Look"}),
    ("video", {"link": "https://x.test/a.mp4"}, {"link": "https://x.test/a.mp4"}),
    ("audio", {"link": "https://x.test/a.ogg"}, {"link": "https://x.test/a.ogg"}),
    ("document", {"link": "https://x.test/a.pdf", "filename": "a.pdf"}, {"link": "https://x.test/a.pdf", "filename": "a.pdf"}),
    ("sticker", {"link": "https://x.test/a.webp"}, {"link": "https://x.test/a.webp"}),
    ("location", {"latitude": -23.5, "longitude": -46.6, "name": "Office"}, {"latitude": -23.5, "longitude": -46.6, "name": "Office"}),
    ("interactive", {"type": "button", "body": "Pick", "buttons": [{"id": "y", "title": "Yes"}]},
     {"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}}]}}),
    ("interactive", {"type": "list", "body": "Pick", "button": "Menu", "sections": [{"rows": [{"id": "a", "title": "A"}]}]},
     {"type": "list", "body": {"text": "Pick"}, "action": {"button": "Menu", "sections": [{"rows": [{"id": "a", "title": "A"}]}]}}),
    ("interactive", {"type": "cta_url", "body": "Site", "display_text": "Open", "url": "https://x.test"},
     {"type": "cta_url", "body": {"text": "Site"}, "action": {"name": "cta_url", "parameters": {"display_text": "Open", "url": "https://x.test"}}}),
    ("interactive", {"type": "location_request_message", "body": "Where should we deliver?"},
     {"type": "location_request_message", "body": {"text": "Where should we deliver?"},
      "action": {"name": "send_location"}}),
]

# Flow, product and product-list messages: the simulator checks them against the
# account's Flows and catalog (apps/simulator/graph_commerce.py), which the tests of these
# kinds create (apps/messaging/tests/test_send_composer_kinds.py).
