"""What the provider tells the domain without importing it.

`token_refused`: Meta refused a number's access token (an OAuthException, error 190
and its kin: errors.Kind.TOKEN). Sent by the Graph client with `number` (the number
whose token it is) and `error` (the GraphAPIError, raised to the caller right after).
The domain connects its reaction (apps.messaging.token_alerts.token_error_report,
connected in WhatsappConfig.ready: the notice on the number, an audit entry, a live
event for the organisation's admins).
"""

from django.dispatch import Signal

token_refused = Signal()
