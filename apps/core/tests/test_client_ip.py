"""Login throttling behind the documented TLS proxy: the client address comes from
X-Forwarded-For only where a trusted proxy wrote it, and a lockout holds a username
at one address, never a username everywhere nor an address for everyone."""

import pytest
from axes.models import AccessAttempt
from django.test import Client, RequestFactory

from apps.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from apps.accounts.tests.worlds import fast_passwords  # noqa: F401
from apps.core.client_ip import client_ip

PROXY = "10.0.0.2"
ATTACKER = "203.0.113.66"
VICTIM = "198.51.100.7"
ELSEWHERE = "192.0.2.44"


def address(remote, forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **meta))


# --- The address ------------------------------------------------------------------------


@pytest.mark.parametrize("forwarded", [None, "", ATTACKER, f"{ATTACKER}, {VICTIM}", "garbage", "1.1.1.1, x"])
def test_without_a_trusted_proxy_the_peer_is_the_client_and_the_header_is_ignored(settings, forwarded):
    settings.TRUSTED_PROXIES, settings.TRUSTED_PROXY_COUNT = [], 0
    assert address(PROXY, forwarded) == PROXY
    assert address(VICTIM, forwarded) == VICTIM


def test_with_a_proxy_count_the_address_the_proxy_received_from_is_the_client(settings):
    settings.TRUSTED_PROXIES, settings.TRUSTED_PROXY_COUNT = [], 1
    assert address(PROXY, VICTIM) == VICTIM
    # A client's own X-Forwarded-For is kept by the proxy, to the left of what it adds.
    assert address(PROXY, f"{ATTACKER}, {VICTIM}") == VICTIM
    assert address(PROXY, f"{ATTACKER}:4431") == ATTACKER
    assert address(PROXY) == PROXY  # nothing forwarded: the peer is all there is
    settings.TRUSTED_PROXY_COUNT = 2
    assert address(PROXY, f"1.1.1.1, {VICTIM}, 10.0.0.9") == VICTIM


def test_with_trusted_proxies_the_header_counts_only_from_them(settings):
    settings.TRUSTED_PROXIES, settings.TRUSTED_PROXY_COUNT = ["10.0.0.0/24", "2001:db8::1"], 0
    assert address(PROXY, VICTIM) == VICTIM
    assert address(PROXY, f"{ATTACKER}, {VICTIM}, 10.0.0.9") == VICTIM
    assert address("2001:db8::1", f"[{VICTIM}]:1234".replace("[", "").replace("]", "")) == VICTIM
    assert address("2001:db8::1", "[2001:db8::77]:443") == "2001:db8::77"
    # Straight from the internet, not through a proxy: the header is the sender's own word.
    assert address(ATTACKER, VICTIM) == ATTACKER
    assert address(ATTACKER, f"{VICTIM}, {PROXY}") == ATTACKER
    # A proxy that forwarded no address or garbage: the proxy is what is known.
    assert address(PROXY) == PROXY
    assert address(PROXY, "not-an-address") == PROXY
    assert address("::ffff:10.0.0.2", VICTIM) == VICTIM  # IPv4-mapped peer


# --- Logins through the proxy ------------------------------------------------------------


def login(username, password, *, client_address):
    """A login as the TLS proxy passes it on: its own address as the peer, the
    client's appended to X-Forwarded-For."""
    return Client().post(
        "/accounts/login/", {"username": username, "password": password},
        REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=client_address,
    )


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXIES, settings.TRUSTED_PROXY_COUNT = [], 1


@pytest.mark.django_db
def test_an_attacker_locks_out_only_themselves_for_that_username(behind_proxy):
    victim, bystander = UserFactory(), UserFactory()
    for _ in range(5):
        login(victim.username, "wrong-password", client_address=ATTACKER)
    assert login(victim.username, DEFAULT_PASSWORD, client_address=ATTACKER).status_code == 429
    # The victim from their own address, and anyone else anywhere, still logs in.
    assert login(victim.username, DEFAULT_PASSWORD, client_address=VICTIM).status_code == 302
    assert login(bystander.username, DEFAULT_PASSWORD, client_address=ELSEWHERE).status_code == 302
    assert login(bystander.username, DEFAULT_PASSWORD, client_address=ATTACKER).status_code == 302
    assert list(AccessAttempt.objects.values_list("username", "ip_address", "failures_since_start")) == [
        (victim.username, ATTACKER, 6)
    ]


@pytest.mark.django_db
def test_failures_from_many_clients_lock_no_one_else(behind_proxy):
    victim = UserFactory()
    for index in range(6):
        assert login(victim.username, "wrong-password", client_address=f"203.0.113.{index + 1}").status_code == 200
    assert login(victim.username, DEFAULT_PASSWORD, client_address=VICTIM).status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {
        f"203.0.113.{index + 1}" for index in range(6)
    }


@pytest.mark.django_db
def test_a_spoofed_header_without_a_trusted_proxy_does_not_change_the_address(settings):
    settings.TRUSTED_PROXIES, settings.TRUSTED_PROXY_COUNT = [], 0
    victim = UserFactory()
    for index in range(5):
        Client().post("/accounts/login/", {"username": victim.username, "password": "wrong-password"},
                      REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"198.18.0.{index + 1}")
    assert list(AccessAttempt.objects.values_list("ip_address", "failures_since_start")) == [(ATTACKER, 5)]
    refused = Client().post("/accounts/login/", {"username": victim.username, "password": DEFAULT_PASSWORD},
                            REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR="198.18.0.99")
    assert refused.status_code == 429
