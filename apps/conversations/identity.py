"""Who a customer is at the provider, independent of the provider.

Meta identifies a customer by the phone-based WhatsApp id (wa_id) and, since 2026,
by a business-scoped user id (BSUID, `user_id`; `parent_user_id` when the business
has several portfolios). A customer who uses a WhatsApp username may come with the
user id alone. Other providers map their own addresses onto the same fields (a
phone number to `wa_id`).

A phone number typed by a person and the WhatsApp id of the same line can differ in
two countries, and WhatsApp's own answers tell which one the account has (Meta's
send answer, the customer's messages):

- Brazil: mobile numbers gained a ninth digit (a 9 after the two-digit area code)
  in 2012-2016; WhatsApp accounts made before keep the eight-digit form (55 DD
  XXXXXXXX, its first digit 6 to 9, which no landline has), newer ones the nine.
- Mexico: mobile numbers were dialled with a 1 after the country code until 2019;
  WhatsApp ids of Mexican mobiles keep it (521 + ten digits).

`wa_id_normalise` turns a typed number into the form WhatsApp most likely uses and
`wa_id_variants` gives every form of the same line, so a number typed either way
finds the one contact."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NOT_DIGITS = re.compile(r"\D")


@dataclass(frozen=True)
class Identity:
    wa_id: str = ""
    user_id: str = ""
    parent_user_id: str = ""
    username: str = ""

    @property
    def key(self) -> str:
        """The customer's key among others of one batch: the wa_id, or the user id."""
        return self.wa_id or self.user_id


def wa_id_normalise(phone) -> str:
    """The WhatsApp id of a phone number typed in international format ("+55 (11)
    98765-4321", "52 55 1234 5678"...): its digits, a Mexican mobile with the 1 after
    52, a Brazilian mobile with its ninth digit. Not checked for length: callers say
    what they accept."""
    digits = _NOT_DIGITS.sub("", str(phone or ""))
    if len(digits) == 12 and digits.startswith("52"):
        return "521" + digits[2:]
    if _brazilian_eight_digit_mobile(digits):
        return digits[:4] + "9" + digits[4:]
    return digits


def wa_id_variants(wa_id: str) -> tuple[str, ...]:
    """Every WhatsApp id the line of `wa_id` may have, `wa_id` first: one for most
    countries, two for Brazilian and Mexican mobiles (see the module's doc)."""
    if len(wa_id) == 13 and wa_id.startswith("521"):
        return wa_id, "52" + wa_id[3:]
    if len(wa_id) == 12 and wa_id.startswith("52"):
        return wa_id, "521" + wa_id[2:]
    if _brazilian_eight_digit_mobile(wa_id):
        return wa_id, wa_id[:4] + "9" + wa_id[4:]
    if len(wa_id) == 13 and wa_id.startswith("55") and _area_code(wa_id) and wa_id[4] == "9" and wa_id[5] in "6789":
        return wa_id, wa_id[:4] + wa_id[5:]
    return (wa_id,)


def _brazilian_eight_digit_mobile(digits: str) -> bool:
    # 55, a two-digit area code, eight digits starting with 6 to 9.
    return len(digits) == 12 and digits.startswith("55") and _area_code(digits) and digits[4] in "6789"


def _area_code(digits: str) -> bool:
    # Brazil's area codes (DDD) are two digits, neither of them 0.
    return "0" not in digits[2:4]
