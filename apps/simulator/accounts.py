"""The simulated WhatsApp's accounts: which WhatsApp id the number a business sends
to has, as Meta's send answer tells it (`contacts[].wa_id`).

As Meta documents it, the id can differ from the number sent to:
- a Mexican mobile sent to as 52 + ten digits has the WhatsApp id 521 + ten digits;
- a Brazilian mobile whose account dates from before the ninth digit keeps the
  eight-digit form (55 DD XXXXXXXX). The simulated WhatsApp knows such an account when
  its customer wrote from it on the phone page: a send to the nine-digit form of
  that number answers the eight-digit id.
"""

from __future__ import annotations

from .models import SimulatedMessage


def account_wa_id(number, to: str) -> str:
    """The WhatsApp id Meta answers for a send of `number` (a WhatsAppNumber) to `to`."""
    if len(to) == 12 and to.startswith("52"):
        return "521" + to[2:]
    if len(to) == 13 and to.startswith("55") and to[4] == "9":
        older = to[:4] + to[5:]
        if SimulatedMessage.objects.filter(phone_number_id=number.phone_number_id, customer=older,
                                           direction=SimulatedMessage.Direction.FROM_CUSTOMER).exists():
            return older
    return to
