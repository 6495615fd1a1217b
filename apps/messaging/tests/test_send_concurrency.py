"""SEND_CONCURRENCY: the calls to Meta a send-worker process has in flight (its sender
loop), hence at most SEND_CONCURRENCY / round trip sends per second."""

import runpy
from pathlib import Path

from apps.messaging import sending

ROOT = Path(__file__).resolve().parents[3]


def settings_with(monkeypatch, **env):
    for name in ("SEND_CONCURRENCY", "SEND_SENDER_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "config" / "settings.py"))


def test_the_default_lets_one_number_send_1000_per_second_at_200_ms(monkeypatch):
    assert settings_with(monkeypatch)["SEND_CONCURRENCY"] / 0.2 >= 1000


def test_the_setting_is_read_from_the_environment_and_under_its_former_name(monkeypatch):
    assert settings_with(monkeypatch, SEND_CONCURRENCY="300")["SEND_CONCURRENCY"] == 300
    assert settings_with(monkeypatch, SEND_SENDER_THREADS="90")["SEND_CONCURRENCY"] == 90
    assert settings_with(monkeypatch, SEND_CONCURRENCY="12", SEND_SENDER_THREADS="90")["SEND_CONCURRENCY"] == 12


def test_send_concurrency_is_the_setting(settings):
    settings.SEND_CONCURRENCY = 90
    assert sending.send_concurrency() == 90
    settings.SEND_CONCURRENCY = 0
    assert sending.send_concurrency() == 1
