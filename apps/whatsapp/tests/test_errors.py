import pytest

from apps.providers.meta import errors
from apps.providers.meta.client import GraphAPIError

TRANSIENT = [1, 2, 4, 80007, 130429, 131048, 131056, 131000, 131016, 131057, 133004]
TOKEN = [0, 190]
TERMINAL = [
    131047, 131049, 131050, 131026, 131021, 131031, 368, 130497, 131051, 131052, 131053, 132000, 132001, 132005,
    132007, 132012, 132015, 132016, 100, 131008, 131009, 131042, 131045, 131037, 131030,
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


def test_every_code_of_the_table_is_tested():
    assert set(errors.ERROR_CODES) == set(TRANSIENT) | set(TOKEN) | set(TERMINAL)


@pytest.mark.parametrize(("status", "kind"), [(500, "transient"), (503, "transient"), (429, "transient"),
                                               (401, "token"), (400, "terminal"), (404, "terminal")])
def test_unknown_codes_fall_back_to_the_http_status(status, kind):
    assert errors.classify(999999, http_status=status).value == kind


def test_network_errors_are_retryable():
    assert GraphAPIError("timeout", retryable=True).retryable is True
