# The pipeline's tests use the numbers' fixtures: a bound number, a signed delivery.
from apps.whatsapp.tests.conftest import (  # noqa: F401
    _fresh_secrets,
    deliver,
    mirrored,
    number,
    run_on_commit,
)
