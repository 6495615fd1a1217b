"""Every HTML page carries a Content-Security-Policy that allows scripts only from
our own origin (or with the response's nonce), never inline ones; the API docs are
served from our static files, not a CDN; no template of ours has an inline script
or an on* handler the policy would block."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from apps.accounts.tests.factories import AdminFactory, UserFactory
from apps.accounts.tests.worlds import fast_passwords  # noqa: F401

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def assert_strict(response):
    policy = directives(response)
    scripts = policy.get("script-src", policy.get("default-src"))
    assert "'self'" in scripts
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    assert "*" not in scripts and not any(s.startswith(("http:", "https:")) for s in scripts)
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_login_page():
    response = Client().get(reverse("login"))
    assert response.status_code == 200
    assert_strict(response)


def test_inbox_pages():
    user = UserFactory()
    client = logged_in(user)
    for url in (reverse("inbox:list"), reverse("inbox:rows")):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_strict(response)


def test_admin_pages():
    admin = AdminFactory(is_staff=True)
    client = logged_in(admin)
    for url in (reverse("admin:index"), reverse("admin:login")):
        response = client.get(url)
        assert response.status_code in (200, 302), url
        assert_strict(response)


def test_api_docs_carry_the_policy_and_come_from_our_own_static_files():
    client = logged_in(UserFactory())
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert_strict(page)
    html = page.content.decode()
    assert "<script>" not in html  # the initialisation is a script file of its own
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert any("drf_spectacular_sidecar/swagger-ui-dist/" in s for s in sources)
    for source in sources:
        assert client.get(source).status_code == 200, source
    script_url = next(s for s in sources if "script" in s).replace("&amp;", "&")
    script = client.get(script_url).content.decode()
    assert not re.search(r"https?://", script), script
    assert "cdn" not in html.lower() and "cdn" not in script.lower()


def test_a_nonce_is_given_to_the_page_that_asks_for_one():
    from django.test import RequestFactory

    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse

    request = RequestFactory().get("/")
    middleware = CSPMiddleware(lambda r: HttpResponse(f"<script nonce='{r.csp_nonce}'></script>"))
    response = middleware(request)
    nonce = re.search(r"nonce='([^']+)'", response.content.decode()).group(1)
    assert f"'nonce-{nonce}'" in directives(response)["script-src"]


HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")(?![^>]*nonce=)[^>]*>",
                           re.IGNORECASE)


def _templates():
    roots = [Path(settings.BASE_DIR) / "templates", *Path(settings.BASE_DIR, "apps").glob("*/templates")]
    return [path for root in roots for path in root.rglob("*.html")]


def test_no_template_has_an_inline_script_or_handler_without_a_nonce():
    offenders = []
    for path in _templates():
        text = path.read_text()
        if HANDLER.search(text) or INLINE_SCRIPT.search(text):
            offenders.append(str(path.relative_to(settings.BASE_DIR)))
    assert offenders == []


def _settings_with(monkeypatch, **env):
    import importlib.util
    import sys

    # DATABASE_URL / REDIS_URL stay the tests' own (else the embedded servers of var/ start).
    for name in ("AWS_STORAGE_BUCKET_NAME", "AWS_S3_ENDPOINT_URL", "CSP_MEDIA_ORIGINS",
                 "DEBUG", "SECRET_KEY", "FIELD_ENCRYPTION_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("settings_for_csp", Path(settings.BASE_DIR) / "config" / "settings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules.pop("settings_for_csp", None)
    return module


def test_media_from_the_bucket_is_allowed_and_nothing_else(monkeypatch):
    local = _settings_with(monkeypatch)
    assert local.CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"] == ["'self'", "data:", "blob:",
                                                                      "https://pps.whatsapp.net"]
    s3 = _settings_with(monkeypatch, AWS_STORAGE_BUCKET_NAME="media", AWS_S3_ENDPOINT_URL="http://127.0.0.1:9000/")
    assert s3.CSP_MEDIA_ORIGINS == ["http://127.0.0.1:9000", "http://media.127.0.0.1:9000"]
    aws = _settings_with(monkeypatch, AWS_STORAGE_BUCKET_NAME="media")
    assert aws.CSP_MEDIA_ORIGINS == ["https://media.s3.amazonaws.com", "https://media.s3.us-east-1.amazonaws.com"]
    assert aws.CONTENT_SECURITY_POLICY["DIRECTIVES"]["media-src"][-2:] == aws.CSP_MEDIA_ORIGINS
    chosen = _settings_with(monkeypatch, AWS_STORAGE_BUCKET_NAME="media", CSP_MEDIA_ORIGINS="https://cdn.example.com")
    assert chosen.CSP_MEDIA_ORIGINS == ["https://cdn.example.com"]


def test_websocket_url_elsewhere_is_allowed_to_connect(monkeypatch):
    monkeypatch.delenv("WEBSOCKET_URL", raising=False)
    assert _settings_with(monkeypatch).CONTENT_SECURITY_POLICY["DIRECTIVES"]["connect-src"] == ["'self'"]
    demo = _settings_with(monkeypatch, WEBSOCKET_URL="ws://127.0.0.1:8062/ws/inbox/")
    assert demo.WEBSOCKET_URL == "ws://127.0.0.1:8062/ws/inbox/"
    assert demo.CONTENT_SECURITY_POLICY["DIRECTIVES"]["connect-src"] == ["'self'", "ws://127.0.0.1:8062"]
