"""One settings module, driven by environment variables.

With no variable set the product runs whole on embedded defaults: a real PostgreSQL
and a real Valkey (Redis protocol) started from pip wheels under VAR_DIR
(apps/core/servers.py), Celery's broker on that Valkey, local
file storage and the built-in simulator in place of Meta's Graph API. Every
variable is documented in docs/configuration.md and .env.example.
"""

import base64
import hashlib
import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from apps.core import servers
from config.env import env, env_bool, env_list

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


# --- Core -----------------------------------------------------------------------
_secret = env("SECRET_KEY")
# Embedded defaults (no SECRET_KEY) mean a developer's machine: DEBUG is on unless
# told otherwise. A production deployment sets SECRET_KEY and DEBUG stays off.
DEBUG = env_bool("DEBUG", default=_secret is None)
if _secret is None and not DEBUG:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
SECRET_KEY = _secret or "dev-insecure-key-only-for-embedded-defaults-0123456789abcdef"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    # Django admin's theme (docs/architecture.md, "Admin"): before django.contrib.admin so
    # that its templates win; its colours, title and switches are the row that
    # apps/core/site_theme.py writes.
    "admin_interface",
    "colorfield",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_htmx",
    # (heroicons is not an app here: its tags are served, cached, by the "heroicons" library below)
    "axes",
    "channels",
    "apps.core",
    "apps.accounts",
    "apps.whatsapp",
    "apps.simulator",
    "apps.conversations",
    "apps.messaging",
    "apps.media",
    "apps.message_templates",
    "apps.bot",
    "apps.notifications",
    "apps.inbound",
    "apps.realtime",
    "apps.live",
    "apps.inbox",
    "apps.reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Webhook POSTs go straight to their view from here (apps/inbound/middleware.py).
    "apps.inbound.middleware.WebhookFastPathMiddleware",
    # The simulated Graph API's calls go straight to their views too (apps/simulator/middleware.py).
    "apps.simulator.middleware.GraphFastPathMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Content-Security-Policy on every response from here down (the webhook's and the
    # simulated Graph API's fast paths above answer JSON only).
    "csp.middleware.CSPMiddleware",
    # A query string or form body with NUL or a lone surrogate is a 400 for every view.
    "apps.core.middleware.RequestParameterGuard",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, keeping sessions signed in under the earlier backend (apps/accounts/backends.py).
    "apps.accounts.backends.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns locked-out logins into a clear answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "apps.core.context_processors.websocket",
            ],
            # heroicons' tags, each icon built once per process (apps/inbox/templatetags/heroicons_cached.py).
            "libraries": {"heroicons": "apps.inbox.templatetags.heroicons_cached"},
        },
    },
]

# --- Database ---------------------------------------------------------------------
# DATABASE_URL, or the embedded PostgreSQL under VAR_DIR/postgres (started if needed).
DATABASES = {
    "default": dj_database_url.parse(
        servers.database_url(),
        conn_max_age=int(env("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if int(env("DB_POOL_MAX_SIZE", "0")) > 0:
    # A psycopg pool per process, shared by its threads (a threads-pool send worker):
    # a thread holds a connection only while it queries, not while it waits on Meta.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1, "max_size": int(env("DB_POOL_MAX_SIZE")), "timeout": 30,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, returning the session's user with their organisation.
    "apps.accounts.backends.UserBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Login throttling: a username is locked at one client address after 5 failures from
# it, for 15 minutes. Never a username everywhere nor an address for everyone: either
# would let anyone lock others out (behind a proxy, every user at once).
AXES_FAILURE_LIMIT = int(env("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The client address is read from X-Forwarded-For only where our proxies wrote it
# (apps/core/client_ip.py): TRUSTED_PROXIES lists their addresses or networks; without
# it, TRUSTED_PROXY_COUNT says how many stand in front. With neither, the peer is the client.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
TRUSTED_PROXY_COUNT = int(env("TRUSTED_PROXY_COUNT", "0"))
AXES_CLIENT_IP_CALLABLE = "apps.core.client_ip.client_ip"

# --- Security ---------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "0"))
# Webhook bodies reach 3 MB at Meta's limit; leave room for headers and form posts.
DATA_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024

# Secrets stored in the database (access tokens, app secrets) are encrypted with
# Fernet. FIELD_ENCRYPTION_KEY may list several keys, comma separated: the first
# encrypts, all decrypt (key rotation).
_field_keys = env_list("FIELD_ENCRYPTION_KEY")
if not _field_keys:
    if not DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when DEBUG is off.")
    _field_keys = [base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()]
FIELD_ENCRYPTION_KEYS = _field_keys

# --- i18n -------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("pt-br", _("Brazilian Portuguese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media -------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
# In development whitenoise serves straight from the apps' static folders.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = Path(env("MEDIA_ROOT", VAR_DIR / "media"))

AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME")
AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL")
AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", "us-east-1")
AWS_ACCESS_KEY_ID = env("AWS_ACCESS_KEY_ID")
AWS_SECRET_ACCESS_KEY = env("AWS_SECRET_ACCESS_KEY")
AWS_DEFAULT_ACL = None
AWS_QUERYSTRING_AUTH = True
AWS_QUERYSTRING_EXPIRE = int(env("MEDIA_URL_TTL", "300"))
AWS_S3_FILE_OVERWRITE = False
MEDIA_URL_TTL = AWS_QUERYSTRING_EXPIRE
# Inbound media is downloaded only from Meta's hosts ("*." matches subdomains).
MEDIA_DOWNLOAD_ALLOWED_HOSTS = env_list(
    "MEDIA_DOWNLOAD_ALLOWED_HOSTS", "lookaside.fbsbx.com,*.fbcdn.net,*.whatsapp.net"
)

STORAGES = {
    "default": (
        {"BACKEND": "storages.backends.s3.S3Storage"}
        if AWS_STORAGE_BUCKET_NAME
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Content-Security-Policy (django-csp) ---------------------------------------------
# Scripts only from our own origin, or an inline one carrying the response's nonce
# ({{ request.csp_nonce }}); never inline otherwise, never eval. Styles may be inline:
# labels' colours are style attributes, and htmx, the admin and Swagger UI add style
# elements. Images and media also come from the bucket's presigned links with S3.
def _media_origins() -> list[str]:
    if not AWS_STORAGE_BUCKET_NAME:
        return []
    if AWS_S3_ENDPOINT_URL:
        scheme, _sep, host = AWS_S3_ENDPOINT_URL.rstrip("/").partition("://")
        host = host.split("/")[0]
        return [f"{scheme}://{host}", f"{scheme}://{AWS_STORAGE_BUCKET_NAME}.{host}"]
    return [f"https://{AWS_STORAGE_BUCKET_NAME}.s3.amazonaws.com",
            f"https://{AWS_STORAGE_BUCKET_NAME}.s3.{AWS_S3_REGION_NAME}.amazonaws.com"]


CSP_MEDIA_ORIGINS = env_list("CSP_MEDIA_ORIGINS") or _media_origins()
# Where the inbox's live socket connects: empty (the default, production behind its
# proxy) means the page's own origin and /ws/inbox/; `manage.py demo` sets it to the
# daphne process's own port (ws://HOST:WS_PORT/ws/inbox/), since no proxy joins the two.
WEBSOCKET_URL = env("WEBSOCKET_URL", "")


def _origin(url: str) -> list[str]:
    scheme, _sep, rest = url.partition("://")
    return [f"{scheme}://{rest.split('/')[0]}"] if scheme and rest else []


CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", "'unsafe-inline'"],
        # Meta's CDN: a number's business profile photo (its profile_picture_url) in admin.
        "img-src": ["'self'", "data:", "blob:", "https://pps.whatsapp.net", *CSP_MEDIA_ORIGINS],
        "media-src": ["'self'", "blob:", *CSP_MEDIA_ORIGINS],
        # 'self' covers the live socket (ws: and wss: to our own host); WEBSOCKET_URL's
        # origin when it is elsewhere (the demo's daphne port).
        "connect-src": ["'self'", *_origin(WEBSOCKET_URL)],
        "font-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Redis, channel layer, cache --------------------------------------------------
# REDIS_URL, or the embedded Valkey under VAR_DIR/valkey (started if needed).
REDIS_URL = servers.redis_url()
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "apps.realtime.layers.BatchedRedisChannelLayer",
        "CONFIG": {
            # redis-py's pool refuses a 101st concurrent connection (MaxConnectionsError,
            # measured by bench/inbox_scale.py with 200 sockets connecting at once).
            # redis-py 8 reads with a 5 s socket timeout by default, the same as the
            # layer's 5 s blocking pop: under load the pop timed out and killed consumers.
            "hosts": [{"address": REDIS_URL,
                       "max_connections": int(env("CHANNEL_LAYER_MAX_CONNECTIONS", "1000")),
                       "socket_timeout": 15}],
            # A burst of thousands of events must not be dropped; a stuck client
            # is bounded by the expiry below instead of by a small capacity.
            "capacity": int(env("CHANNEL_LAYER_CAPACITY", "10000")),
            "expiry": 60,
            "group_expiry": 86400,
        },
    }
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

# Live updates: how long and how many events per group are kept for a reconnecting
# browser's catch-up, and how long a killed process may leave a user "online".
REALTIME_REPLAY_SECONDS = int(env("REALTIME_REPLAY_SECONDS", str(24 * 3600)))
REALTIME_REPLAY_MAX_PER_GROUP = int(env("REALTIME_REPLAY_MAX_PER_GROUP", "100000"))
REALTIME_CATCH_UP_MAX = int(env("REALTIME_CATCH_UP_MAX", "5000"))
REALTIME_PRESENCE_TTL = int(env("REALTIME_PRESENCE_TTL", "90"))
# An open socket rechecks its user's rights this often (changes made through
# accounts.services reach it at once); client frames per socket per second, and burst.
REALTIME_RIGHTS_CHECK_SECONDS = float(env("REALTIME_RIGHTS_CHECK_SECONDS", "5"))
WS_MAX_FRAMES_PER_SECOND = float(env("WS_MAX_FRAMES_PER_SECOND", "10"))
WS_FRAMES_BURST = int(env("WS_FRAMES_BURST", "20"))
# Sockets one user may hold open at once (tabs, devices); one more is closed with 4430.
WS_MAX_SOCKETS_PER_USER = int(env("WS_MAX_SOCKETS_PER_USER", "30"))

# --- Tasks ------------------------------------------------------------------------
# The broker is CELERY_BROKER_URL, else REDIS_URL when it was given in the environment,
# else the embedded Valkey's database 1 (the cache and the channel layer use 0). Tasks
# always go to the broker; the Procfile's workers run them (`manage.py demo` too).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", env("REDIS_URL") or servers.redis_db_url(REDIS_URL, servers.BROKER_DB))
# kombu's Redis transport with the fix that keeps a busy worker alive when Redis
# restarts (apps/core/broker.py).
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT = "apps.core.broker:Transport"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes every database connection before and after every task
# unless this is set; config/celery.py closes only obsolete or broken ones instead (as
# Django does around a request) and the fix-up recycles them after this many tasks.
CELERY_DB_REUSE_MAX = int(env("CELERY_DB_REUSE_MAX", "1000"))
CELERY_TASK_DEFAULT_QUEUE = "default"
# Longer than any countdown or retry delay we use, so a late-acked task is not
# redelivered while it is still scheduled. Each worker looks for tasks whose visibility
# timeout passed every 10 s (kombu's unacked_restore_interval); kombu's default throttle
# made it look only every tenth time, so a dead worker's task waited up to 100 s more.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(env("CELERY_VISIBILITY_TIMEOUT", str(2 * 3600))),
    "unacked_restore_throttle": 1,
}
# Which queue each task goes to, and beat's periodic tasks: config/schedule.py.
from config.schedule import (  # noqa: F401
    CELERY_BEAT_SCHEDULE,
    CELERY_TASK_ROUTES,
    NUMBER_STATUS_READ_SECONDS,
    SEND_SWEEP_SECONDS,
)

CELERY_TIMEZONE = "UTC"

# --- Meta / Graph API ---------------------------------------------------------------
META_APP_SECRET = env("META_APP_SECRET")
META_VERIFY_TOKEN = env("META_VERIFY_TOKEN")
GRAPH_API_VERSION = env("GRAPH_API_VERSION", "v23.0")
# The built-in simulator stands in for Meta on a developer's machine (DEBUG on, no
# GRAPH_API_BASE); anywhere else only when SIMULATOR_ENABLED says so, so that a
# production configuration never serves its pages and failure controls by default.
SIMULATOR_ENABLED = env_bool("SIMULATOR_ENABLED", DEBUG and env("GRAPH_API_BASE") is None)
GRAPH_API_BASE = env(
    "GRAPH_API_BASE", f"{SITE_URL}/simulator/graph" if SIMULATOR_ENABLED else "https://graph.facebook.com"
).rstrip("/")
# Seconds a simulator process keeps its settings and the numbers it was called for
# (0: read them on every call). A change made in the same process (the control API, the
# admin) applies at once; one made elsewhere within this time.
SIMULATOR_CACHE_SECONDS = float(env("SIMULATOR_CACHE_SECONDS", "1"))
# The Meta app whose Resumable Upload API takes a media-header template's sample file
# (POST /{app-id}/uploads); the simulator takes any numeric id.
META_APP_ID = env("META_APP_ID", "1" if SIMULATOR_ENABLED else "")
# Where Meta serves template archiving (empty: https://api.facebook.com beside Meta's
# Graph API, GRAPH_API_BASE/api otherwise: apps/providers/meta/destinations.archive_base).
META_TEMPLATE_ARCHIVE_BASE = env("META_TEMPLATE_ARCHIVE_BASE", "")
GRAPH_API_TIMEOUT = float(env("GRAPH_API_TIMEOUT", "20"))
# Kept-alive connections to the Graph API per process for the calls made from threads
# (read receipts, media uploads, templates); every send uses the sender loop.
GRAPH_HTTP_POOL_SIZE = int(env("GRAPH_HTTP_POOL_SIZE", "100"))
# Sending: retries of transient errors (exponential backoff with jitter from the base
# delay), and the pair rate to one customer (Meta: about one message every 6 s,
# short bursts allowed).
SEND_MAX_ATTEMPTS = int(env("SEND_MAX_ATTEMPTS", "6"))
# Hours a status for a wamid we do not know waits for its message (stored by a send,
# or named by the status's echoed id) before the reconciliation deletes it, logged:
# statuses of messages sent by other systems on the number never find theirs.
PENDING_STATUS_MAX_AGE_HOURS = float(env("PENDING_STATUS_MAX_AGE_HOURS", "24"))
SEND_RETRY_BASE_DELAY = float(env("SEND_RETRY_BASE_DELAY", "2"))
SEND_PAIR_RATE_PER_SECOND = float(env("SEND_PAIR_RATE_PER_SECOND", str(1 / 6)))
SEND_PAIR_BURST = int(env("SEND_PAIR_BURST", "10"))
# A number Meta refuses as a whole (permissions, blocks: apps/messaging/sending/pause.py)
# waits this long before its first check, doubling after each failed one up to the
# maximum; the spam rate limit (131048) waits longer, as a quick retry only adds to it.
SEND_PAUSE_CHECK_SECONDS = float(env("SEND_PAUSE_CHECK_SECONDS", "1800"))
SEND_PAUSE_CHECK_MAX_SECONDS = float(env("SEND_PAUSE_CHECK_MAX_SECONDS", str(6 * 3600)))
SEND_SPAM_PAUSE_SECONDS = float(env("SEND_SPAM_PAUSE_SECONDS", "3600"))
SEND_SPAM_PAUSE_MAX_SECONDS = float(env("SEND_SPAM_PAUSE_MAX_SECONDS", str(24 * 3600)))
# Sends of one number at once after a quiet moment: 1 spaces them 1/rate apart, so no
# second holds more than the number's rate.
SEND_NUMBER_BURST = int(env("SEND_NUMBER_BURST", "1"))
# Calls to Meta a send-worker process has in flight at once (its sender loop,
# apps/providers/meta/transport.py), so at most this many / round trip sends per second (256
# at 200 ms: 1,280/s, above Meta's highest tier of 1,000/s for one number). The loop
# keeps a connection per call in flight. SEND_SENDER_THREADS is its former name.
SEND_CONCURRENCY = int(env("SEND_CONCURRENCY", env("SEND_SENDER_THREADS", "256")))
# Benchmarks only: expose a bare JSON view at /bench/floor/ as the floor.
BENCH_FLOOR_VIEW = env_bool("BENCH_FLOOR_VIEW", False)
WEBHOOK_MAX_BODY_BYTES = int(env("WEBHOOK_MAX_BODY_BYTES", str(3 * 1024 * 1024)))
# Unauthenticated deliveries stored per minute, across processes (beyond it they are
# only counted, and answered 429); days stored deliveries are kept once done with
# (processed, unknown number), and refused ones (inbound.prune_webhook_events).
WEBHOOK_REFUSED_PER_MINUTE = int(env("WEBHOOK_REFUSED_PER_MINUTE", "60"))
WEBHOOK_RETENTION_DAYS = float(env("WEBHOOK_RETENTION_DAYS", "30"))
WEBHOOK_REJECTED_RETENTION_DAYS = float(env("WEBHOOK_REJECTED_RETENTION_DAYS", "7"))
# After a web process has woken the inbound worker it waits this long (seconds) before
# it wakes it again; deliveries stored meanwhile wait for the next wake-up. A queued,
# unstarted drain task already coalesces the wake-ups of every process.
WEBHOOK_WAKE_INTERVAL = float(env("WEBHOOK_WAKE_INTERVAL", "0.01"))
# Seconds the inbound worker keeps a number and its organisation between drains (0: read
# them for every drain); a change to either reaches inbound processing within that time.
INBOUND_NUMBER_CACHE_SECONDS = float(env("INBOUND_NUMBER_CACHE_SECONDS", "2"))

# --- OpenAI-compatible bot ----------------------------------------------------------
OPENAI_API_KEY = env("OPENAI_API_KEY")
OPENAI_BASE_URL = env("OPENAI_BASE_URL")
OPENAI_MODEL = env("OPENAI_MODEL", "gpt-4o-mini")
OPENAI_TIMEOUT = float(env("OPENAI_TIMEOUT", "30"))
# The bot's own retries of a timeout, 429 or 5xx (the openai client's are off).
OPENAI_MAX_ATTEMPTS = int(env("OPENAI_MAX_ATTEMPTS", "3"))
OPENAI_RETRY_BASE_DELAY = float(env("OPENAI_RETRY_BASE_DELAY", "1"))
# An embeddings model (e.g. text-embedding-3-small) switches retrieval to embeddings.
OPENAI_EMBEDDING_MODEL = env("OPENAI_EMBEDDING_MODEL", "")

# --- REST API -----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "apps.accounts.tokens.ApiTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # A JSON, form or multipart body with NUL or a lone surrogate is a 400; limits are
    # capped (apps/core/api.py).
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.api.JSONParser",
        "apps.core.api.FormParser",
        "apps.core.api.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "WhatsApp Inbox API",
    "DESCRIPTION": "Agent inbox for the WhatsApp Business Cloud API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files come from our static files (drf-spectacular-sidecar), not a CDN,
    # and it calls no outside validator.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- Logging ------------------------------------------------------------------------
from config.log_settings import LOGGING  # noqa: F401
