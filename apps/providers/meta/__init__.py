"""Meta's WhatsApp Cloud API: the Graph API client and its transport (client.py,
transport.py, destinations.py), the webhook's signature, body, parser and typed events
(signature.py, body.py, parser.py, events.py), the error table (errors.py), what the
provider tells the domain (signals.py)."""
