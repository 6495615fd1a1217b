import pytest

from apps.providers.meta import errors
from apps.providers.meta.client import GraphAPIError

TRANSIENT = [1, 2, 4, 80007, 130429, 131056, 131000, 131016, 131057, 133004, 139102, 139103]
TOKEN = [0, 190]
# The number or its account may not send: permissions, blocks, the spam rate limit.
PAUSE = [3, 10, 131005, 368, 131031, 131037, 131042, 131045, 133010, 131063, 131048]
TERMINAL = [
    131047, 131049, 131050, 131026, 131021, 130497, 131051, 131052, 131053, 132000, 132001, 132005,
    132007, 132012, 132015, 132016, 100, 131008, 131009, 131030, 139100, 139101,
]


@pytest.mark.parametrize("code", TRANSIENT)
def test_transient_codes_are_retryable(code):
    error = GraphAPIError("x", code=code, http_status=400)
    assert errors.classify(code) is errors.Kind.TRANSIENT
    assert (error.retryable, error.token_error) == (True, False)


@pytest.mark.parametrize("code", TOKEN)
def test_token_codes_alert_and_are_not_retried(code):
    error = GraphAPIError("x", code=code, http_status=401)
    assert errors.classify(code) is errors.Kind.TOKEN
    assert (error.retryable, error.token_error) == (False, True)


@pytest.mark.parametrize("code", TERMINAL)
def test_terminal_codes_are_not_retried(code):
    error = GraphAPIError("x", code=code, http_status=400)
    assert errors.classify(code) is errors.Kind.TERMINAL
    assert (error.retryable, error.token_error) == (False, False)
    assert errors.describe(code) != ""


@pytest.mark.parametrize("code", PAUSE + [200, 250, 299])
def test_permission_and_block_codes_pause_the_number_and_are_not_retried(code):
    error = GraphAPIError("x", code=code, http_status=400)
    assert errors.classify(code) is errors.Kind.PAUSE
    assert (error.retryable, error.token_error, error.pauses_number) == (False, False, True)
    assert errors.describe(code) != "" and code in errors.RETRY_CAN_HELP_CODES
    assert (code in errors.SPAM_CODES) is (code == 131048)


@pytest.mark.parametrize("code", [199, 300])
def test_the_permission_range_is_200_to_299(code):
    assert errors.classify(code) is errors.Kind.TERMINAL and not GraphAPIError("x", code=code).pauses_number


def test_every_code_of_the_table_is_tested():
    assert set(errors.ERROR_CODES) == set(TRANSIENT) | set(TOKEN) | set(PAUSE) | set(TERMINAL)


@pytest.mark.parametrize(("status", "kind"), [(500, "transient"), (503, "transient"), (429, "transient"),
                                               (401, "token"), (400, "terminal"), (404, "terminal")])
def test_unknown_codes_fall_back_to_the_http_status(status, kind):
    assert errors.classify(999999, http_status=status).value == kind


def test_network_errors_are_retryable():
    assert GraphAPIError("timeout", retryable=True).retryable is True
