"""Django settings for avis, read from environment variables only.

Every variable is documented in the README's configuration table. Defaults
describe the embedded mode: one machine, a SQLite file under ``var/``, an
embedded Huey queue, nothing else to install.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url

from avis.encryption import parse_keys
from avis.env import ConfigurationError, env_bool, env_int, env_json, env_list, env_str

PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT = PACKAGE_DIR.parent.parent
VAR_DIR = Path(
    env_str(
        "AVIS_VAR_DIR",
        str(_CHECKOUT / "var" if (_CHECKOUT / "pyproject.toml").exists() else Path.cwd() / "var"),
    )
)
# Each pytest-xdist worker keeps its own files (the embedded queue above all): ./dev test runs on both
# cores. An explicit AVIS_VAR_DIR (a test's own installation) is kept as given.
if env_str("PYTEST_XDIST_WORKER", "") and not env_str("AVIS_VAR_DIR", ""):
    VAR_DIR = VAR_DIR / env_str("PYTEST_XDIST_WORKER", "")
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """An explicit key wins; otherwise one is generated once and kept under var/."""
    configured = env_str("AVIS_SECRET_KEY", "")
    if configured:
        return configured
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        key_file.chmod(0o600)
    return key_file.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("AVIS_DEBUG", False)
ALLOWED_HOSTS = env_list("AVIS_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("AVIS_CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "avis.http.csrf_failure"  # the site's 403 page, saying what to do
AVIS_BASE_URL = env_str("AVIS_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# bench/respond.py's baseline: a trivial respondent view at /bench/baseline/<token> (one INSERT per
# POST), routed only when the bench's server sets this; never in production (avis/bench_baseline.py).
AVIS_BENCH_BASELINE = env_bool("AVIS_BENCH_BASELINE", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "csp",
    "ninja",  # serves Swagger UI from its own static files, not a CDN
    "huey.contrib.djhuey",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "avis.accounts",
    "avis.customers",
    "avis.interactions",
    "avis.governance",
    "avis.surveys",
    "avis.messaging",
    "avis.cases",
    "avis.analytics",
    "avis.barometers",
    "avis.dashboard",
    "avis.operations",
    "avis.audit",
    "avis.privacy",
]

MIDDLEWARE = [
    # First: the request id, the access log, the latency; /healthz, /readyz and /-/metrics answered here.
    "avis.observability.RequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "avis.accounts.middleware.OrganisationMiddleware",
    "avis.audit.context.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "avis.http.NoStoreWhenSignedInMiddleware",
    "avis.http.AvisErrorMiddleware",
    "avis.accounts.throttling.ApiRateLimitMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "avis.urls"
WSGI_APPLICATION = "avis.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "avis.accounts.context_processors.organisation",
            ],
            # Codes become words in every template through the same filters (avis/words.py).
            "builtins": ["avis.words"],
        },
    },
]

# --- Database -----------------------------------------------------------------
try:
    DATABASES = {
        "default": dj_database_url.parse(
            env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'avis.sqlite3'}"),
            conn_max_age=env_int("AVIS_DB_CONN_MAX_AGE", 0),
        )
    }
except ValueError as exc:  # never echo the URL: it may hold a password
    problem = "unknown scheme" if isinstance(exc, dj_database_url.UnknownSchemeError) else "malformed"
    raise ConfigurationError(
        f"DATABASE_URL is not a database URL avis can read ({problem}); write it as "
        "postgres://user:password@host:5432/name or sqlite:////path/to/avis.sqlite3"
    ) from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take SQLite's write lock at BEGIN, so two
    # decisions for the same customer cannot both read the old contact count
    # (the per-customer cap relies on it; PostgreSQL uses SELECT FOR UPDATE).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        # A 64 MB page cache (the default is 2 MB) keeps the indexes
        # decisions read in memory as the history grows.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-avis.sqlite3")}
    # Opening the file costs more than an inbound webhook's own work (the
    # pragmas above, the schema parsed again, a cold page cache): each thread
    # keeps its connection unless AVIS_DB_CONN_MAX_AGE says otherwise.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("AVIS_DB_CONN_MAX_AGE", 600)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A new PostgreSQL connection per request costs more than a respondent's whole answer (a
    # backend forked, its catalogue caches cold: the page's one join took 5–14 ms to plan
    # instead of 1; bench/respond.py): each thread keeps its connection ten minutes, checked
    # before reuse so a restarted server costs one retry, not an error page. Kept one minute,
    # every thread paid that cold start each minute even under steady load: bench/scale.py's
    # slowest requests were those (an interaction's ~25 statements planned afresh).
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("AVIS_DB_CONN_MAX_AGE", 600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Django's backend, but a quiet connection's check asks its socket, not the server, and the
    # respondent's statements are prepared (avis/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "avis.postgresql"
else:
    raise ConfigurationError("DATABASE_URL must point to SQLite or PostgreSQL")

# Off only behind a pooler that keeps no prepared statement across its transactions (PgBouncer
# before 1.21 in transaction mode): docs/deployment.md.
AVIS_DB_PREPARED_STATEMENTS = env_bool("AVIS_DB_PREPARED_STATEMENTS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"
# Every path that sets a password applies these: the sign-up by invitation, the password change
# and reset pages, `avis createorg` and `avis team`.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("AVIS_PASSWORD_MIN_LENGTH", 10)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes counts refused sign-ins in the database (shared by every process): after
# AVIS_LOGIN_FAILURE_LIMIT refusals for one address from one client, both are locked out for
# AVIS_LOGIN_LOCKOUT_MINUTES. The login view always passes the request; ThrottledBackend lets
# request-less authentication (the test client, a shell) through to the next backend.
AUTHENTICATION_BACKENDS = [
    "avis.accounts.backends.ThrottledBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AVIS_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AVIS_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "avis.audit.context.client_address"  # REMOTE_ADDR, never a header
AXES_USERNAME_CALLABLE = "avis.accounts.backends.typed_username"
AXES_VERBOSE = False
# A password reset link works this long, once.
PASSWORD_RESET_TIMEOUT = 2 * 3600
# Authenticator apps show this issuer beside the account.
OTP_TOTP_ISSUER = "avis"
# Signed-in sessions last this many hours from sign-in.
AVIS_SESSION_HOURS = env_int("AVIS_SESSION_HOURS", 12)
if AVIS_SESSION_HOURS < 1:
    raise ConfigurationError("AVIS_SESSION_HOURS must be at least 1")
SESSION_COOKIE_AGE = AVIS_SESSION_HOURS * 3600
# API requests a minute, per key and per client address (0: no limit); counted in Redis when
# AVIS_REDIS_URL is set, otherwise in the database, so every process shares the counts.
AVIS_API_RATE_PER_KEY = env_int("AVIS_API_RATE_PER_KEY", 600)
AVIS_API_RATE_PER_ADDRESS = env_int("AVIS_API_RATE_PER_ADDRESS", 1200)
SESSION_COOKIE_HTTPONLY = True

# --- HTTP hardening (docs/security.md) -------------------------------------------
# Served over HTTPS (AVIS_BASE_URL says so): Secure cookies, HSTS, and plain HTTP redirected.
_HTTPS = AVIS_BASE_URL.startswith("https://")
SESSION_COOKIE_SECURE = env_bool("AVIS_SECURE_COOKIES", _HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("AVIS_SSL_REDIRECT", _HTTPS)
SECURE_HSTS_SECONDS = env_int("AVIS_HSTS_SECONDS", 31_536_000 if _HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("AVIS_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("AVIS_HSTS_PRELOAD", False)
# Behind a reverse proxy that terminates TLS, it must set X-Forwarded-Proto (else redirects loop).
# Behind nginx (deploy/): X-Forwarded-Proto says whether the client used HTTPS, and the last address
# of X-Forwarded-For is the client's (avis.audit.context.client_address). Never without a proxy
# that sets both: a client could claim any address.
AVIS_BEHIND_PROXY = env_bool("AVIS_BEHIND_PROXY", False)
if AVIS_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Listing the domain in browsers' preload lists is the operator's decision, not a default.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"


def _email_style_hashes() -> list[str]:
    """The invitation e-mail's style attributes, each allowed by its hash alone.

    E-mail clients need styles inline, and the survey designer previews the e-mail in an
    ``<iframe srcdoc>``, which obeys the page's policy: these exact declarations may apply
    there ('unsafe-hashes'), and no other inline style anywhere.
    """
    template = PACKAGE_DIR / "messaging" / "templates" / "messaging" / "invitation_email.html"
    values = set(re.findall(r'style="([^"{}]*)"', template.read_text(encoding="utf-8")))
    digests = (base64.b64encode(hashlib.sha256(v.encode()).digest()).decode() for v in values)
    return ["'unsafe-hashes'", *sorted(f"'sha256-{d}'" for d in digests)] if values else []


# Scripts and styles only from avis's own static files: no inline script or eval anywhere, and
# no inline style but the invitation e-mail's own declarations, by hash.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", *_email_style_hashes()],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Internationalisation -----------------------------------------------------
LANGUAGE_CODE = env_str("AVIS_LANGUAGE", "en")
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
# Day first in English too (2 Dec 2026, 02/12/2026 14:05): avis/formats/en/formats.py.
FORMAT_MODULE_PATH = ["avis.formats"]
TIME_ZONE = env_str("AVIS_TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Email (SMTP) -------------------------------------------------------------
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env_str("AVIS_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("AVIS_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("AVIS_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("AVIS_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("AVIS_EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("AVIS_EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("AVIS_EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = env_str("AVIS_EMAIL_FROM", "avis <no-reply@avis.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Channels -------------------------------------------------------------------
# Which provider carries each channel: "smtp" or "console" for email,
# "twilio", "http" (a generic gateway) or "console" for SMS.
AVIS_EMAIL_PROVIDER = env_str("AVIS_EMAIL_PROVIDER", "console")
AVIS_SMS_PROVIDER = env_str("AVIS_SMS_PROVIDER", "console")
if AVIS_EMAIL_PROVIDER not in {"smtp", "console"}:
    raise ConfigurationError("AVIS_EMAIL_PROVIDER must be 'smtp' or 'console'")
if AVIS_SMS_PROVIDER not in {"console", "twilio", "http", "simulator"}:
    raise ConfigurationError("AVIS_SMS_PROVIDER must be 'console', 'twilio', 'http' or 'simulator'")
AVIS_SMS_SENDER = env_str("AVIS_SMS_SENDER", "")
AVIS_SMS_TIMEOUT = env_int("AVIS_SMS_TIMEOUT", 10)
AVIS_TWILIO_ACCOUNT_SID = env_str("AVIS_TWILIO_ACCOUNT_SID", "")
AVIS_TWILIO_AUTH_TOKEN = env_str("AVIS_TWILIO_AUTH_TOKEN", "")
AVIS_TWILIO_FROM = env_str("AVIS_TWILIO_FROM", "")
AVIS_TWILIO_MESSAGING_SERVICE_SID = env_str("AVIS_TWILIO_MESSAGING_SERVICE_SID", "")
# Only for tests and Twilio-compatible mock servers; empty means Twilio's own API.
AVIS_TWILIO_API_BASE = env_str("AVIS_TWILIO_API_BASE", "").rstrip("/")
AVIS_SMS_HTTP_URL = env_str("AVIS_SMS_HTTP_URL", "")
AVIS_SMS_HTTP_METHOD = env_str("AVIS_SMS_HTTP_METHOD", "POST").upper()
AVIS_SMS_HTTP_HEADERS = env_json("AVIS_SMS_HTTP_HEADERS", {})
AVIS_SMS_HTTP_BODY_FORMAT = env_str("AVIS_SMS_HTTP_BODY_FORMAT", "json").lower()
AVIS_SMS_HTTP_BODY_TEMPLATE = env_json(
    "AVIS_SMS_HTTP_BODY_TEMPLATE",
    {"to": "{to}", "text": "{text}", "sender": "{sender}", "reference": "{idempotency_key}"},
)
AVIS_SMS_HTTP_ID_PATH = env_str("AVIS_SMS_HTTP_ID_PATH", "id")
AVIS_SMS_HTTP_SIGNATURE_HEADER = env_str("AVIS_SMS_HTTP_SIGNATURE_HEADER", "X-Signature")
AVIS_SMS_HTTP_SECRET = env_str("AVIS_SMS_HTTP_SECRET", "")
AVIS_SMS_HTTP_RECEIPT_FIELDS = env_json("AVIS_SMS_HTTP_RECEIPT_FIELDS", {})
AVIS_SMS_HTTP_INBOUND_FIELDS = env_json("AVIS_SMS_HTTP_INBOUND_FIELDS", {})
AVIS_SMS_HTTP_STATUSES = env_json("AVIS_SMS_HTTP_STATUSES", {})
AVIS_SMS_HTTP_INVALID_CODES = env_list("AVIS_SMS_HTTP_INVALID_CODES", [])
if AVIS_SMS_PROVIDER == "twilio" and not (AVIS_TWILIO_ACCOUNT_SID and AVIS_TWILIO_AUTH_TOKEN):
    raise ConfigurationError(
        "AVIS_SMS_PROVIDER=twilio needs AVIS_TWILIO_ACCOUNT_SID and AVIS_TWILIO_AUTH_TOKEN"
    )
if AVIS_SMS_PROVIDER == "twilio" and not (AVIS_TWILIO_FROM or AVIS_TWILIO_MESSAGING_SERVICE_SID):
    raise ConfigurationError(
        "AVIS_SMS_PROVIDER=twilio needs AVIS_TWILIO_FROM or AVIS_TWILIO_MESSAGING_SERVICE_SID"
    )
if AVIS_SMS_PROVIDER == "http" and not AVIS_SMS_HTTP_URL:
    raise ConfigurationError("AVIS_SMS_PROVIDER=http needs AVIS_SMS_HTTP_URL")
if AVIS_SMS_HTTP_METHOD not in {"POST", "GET"}:
    raise ConfigurationError("AVIS_SMS_HTTP_METHOD must be POST or GET")
if AVIS_SMS_HTTP_BODY_FORMAT not in {"json", "form"}:
    raise ConfigurationError("AVIS_SMS_HTTP_BODY_FORMAT must be 'json' or 'form'")
for _name in ("HEADERS", "BODY_TEMPLATE", "RECEIPT_FIELDS", "INBOUND_FIELDS", "STATUSES"):
    if not isinstance(globals()[f"AVIS_SMS_HTTP_{_name}"], dict):
        raise ConfigurationError(f"AVIS_SMS_HTTP_{_name} must be a JSON object")
if (AVIS_SMS_HTTP_BODY_FORMAT == "form" or AVIS_SMS_HTTP_METHOD == "GET") and not all(
    isinstance(value, str) for value in AVIS_SMS_HTTP_BODY_TEMPLATE.values()
):
    raise ConfigurationError("AVIS_SMS_HTTP_BODY_TEMPLATE must map names to strings for form bodies and GET")
AVIS_INVITATION_TTL_DAYS = env_int("AVIS_INVITATION_TTL_DAYS", 7)
# Days a colleague's invitation to join the team stays usable.
AVIS_TEAM_INVITATION_DAYS = env_int("AVIS_TEAM_INVITATION_DAYS", 7)
AVIS_OUTBOX_STALE_SECONDS = env_int("AVIS_OUTBOX_STALE_SECONDS", 300)
# Outgoing case webhooks: first retry after this many seconds, doubling each time; request timeout.
AVIS_WEBHOOK_RETRY_SECONDS = env_int("AVIS_WEBHOOK_RETRY_SECONDS", 30)
AVIS_WEBHOOK_TIMEOUT = env_int("AVIS_WEBHOOK_TIMEOUT", 10)
# Hosts and networks webhooks may reach although not public (e.g. "crm.internal,10.20.0.0/16");
# every other loopback, private or link-local address is refused (docs/security.md).
AVIS_WEBHOOK_ALLOW = env_list("AVIS_WEBHOOK_ALLOW", [])
# Messages per second each provider may take from one worker process (0: no limit).
AVIS_SMS_RATE_LIMIT = env_int("AVIS_SMS_RATE_LIMIT", 30)
AVIS_EMAIL_RATE_LIMIT = env_int("AVIS_EMAIL_RATE_LIMIT", 0)
# Price of one SMS segment, in the organisation's currency (a decimal string).
AVIS_SMS_PRICE_PER_SEGMENT = env_str("AVIS_SMS_PRICE_PER_SEGMENT", "0.05")
# Hours after the invitation before the one reminder (0: no reminder).
AVIS_REMINDER_DELAY_HOURS = env_int("AVIS_REMINDER_DELAY_HOURS", 48)
# Hours of silence after which an SMS conversation is closed with what it collected.
AVIS_SMS_CONVERSATION_IDLE_HOURS = env_int("AVIS_SMS_CONVERSATION_IDLE_HOURS", 24)
# Bounce and complaint reports posted to /hooks/email/events carry an HMAC-SHA256 with this secret.
AVIS_EMAIL_WEBHOOK_SECRET = env_str("AVIS_EMAIL_WEBHOOK_SECRET", "")
# Fernet key(s) that encrypt the secrets organisations store (their providers' credentials);
# comma-separated for rotation (the first encrypts). Checked here so a bad key stops start-up.
AVIS_SECRETS_KEY = env_str("AVIS_SECRETS_KEY", "")
_secrets_keys_are_valid = parse_keys(AVIS_SECRETS_KEY)

# --- Background work (Huey) ---------------------------------------------------
AVIS_REDIS_URL = env_str("AVIS_REDIS_URL", "")
_huey_immediate = env_bool("AVIS_HUEY_IMMEDIATE", False)
# pytest-xdist's workers share one Redis: each keeps its own queue (consumers they start inherit the name).
_huey_name = env_str("AVIS_HUEY_NAME", "avis")
if env_str("PYTEST_XDIST_WORKER", "") and not env_str("AVIS_HUEY_NAME", ""):
    _huey_name = f"avis-{env_str('PYTEST_XDIST_WORKER', '')}"
if AVIS_REDIS_URL:
    import redis

    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": _huey_name,
        # A Redis whose machine is gone costs an enqueue 2 s (then the wake-up is left to the sweeps,
        # avis/queue.py), not the system's TCP connect timeout (minutes).
        "connection_pool": redis.ConnectionPool.from_url(AVIS_REDIS_URL, socket_connect_timeout=2),
        "immediate": _huey_immediate,
        "utc": True,
        "consumer": {"workers": env_int("AVIS_WORKERS", 2), "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "avis.queue.SqliteHuey",  # huey's own, without an fsync per task
        "name": _huey_name,
        "filename": env_str("AVIS_HUEY_FILE", str(VAR_DIR / "huey.sqlite3")),
        "immediate": _huey_immediate,
        "utc": True,
        "consumer": {"workers": env_int("AVIS_WORKERS", 2), "worker_type": "thread"},
    }

# Shared by every web process when Redis is configured (several machines): the cache, and the
# sessions (cached_db: read from Redis, written through to the database, so a Redis restart signs
# nobody out). While Redis is unreachable the cache reads as empty and writes nothing (avis/cache.py):
# sessions come from the database alone. Without Redis: one machine, sessions in the database, a
# per-process cache.
if AVIS_REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "avis.cache.ResilientRedisCache",
            "LOCATION": AVIS_REDIS_URL,
            "KEY_PREFIX": _huey_name,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Operations: health, metrics (docs/deployment.md) ---------------------------------
# /-/metrics answers a bearer token when one is set; else only these client addresses.
AVIS_PROMETHEUS_TOKEN = env_str("AVIS_PROMETHEUS_TOKEN", "")
AVIS_PROMETHEUS_ADDRESSES = env_list("AVIS_PROMETHEUS_ADDRESSES", ["127.0.0.1", "::1"])
# The business figures (counts in the database) are computed at most this often.
AVIS_PROMETHEUS_CACHE_SECONDS = env_int("AVIS_PROMETHEUS_CACHE_SECONDS", 15)

# --- Backups ------------------------------------------------------------------------
# Archives of `avis backup`; put them on another disk than var/ (a dead disk takes both).
AVIS_BACKUP_DIR = Path(env_str("AVIS_BACKUP_DIR", str(VAR_DIR / "backups")))
# Erasures and sent messages since each backup, re-applied by `avis restore` (see avis/journal.py).
AVIS_JOURNAL_DIR = Path(env_str("AVIS_JOURNAL_DIR", str(AVIS_BACKUP_DIR / "journal")))
# Local hour (AVIS_TIME_ZONE) of the scheduler's daily backup; "off" leaves backups to cron or the operator.
_backup_hour = env_str("AVIS_BACKUP_HOUR", "3")
if _backup_hour.lower() == "off":
    AVIS_BACKUP_HOUR: int | None = None
elif _backup_hour.isdigit() and 0 <= int(_backup_hour) <= 23:
    AVIS_BACKUP_HOUR = int(_backup_hour)
else:
    raise ConfigurationError(f"AVIS_BACKUP_HOUR={_backup_hour!r} must be an hour from 0 to 23, or off")
AVIS_BACKUP_KEEP_DAILY = env_int("AVIS_BACKUP_KEEP_DAILY", 7)
AVIS_BACKUP_KEEP_WEEKLY = env_int("AVIS_BACKUP_KEEP_WEEKLY", 4)
if AVIS_BACKUP_KEEP_DAILY < 1 or AVIS_BACKUP_KEEP_WEEKLY < 0:
    raise ConfigurationError(
        "AVIS_BACKUP_KEEP_DAILY must be at least 1 and AVIS_BACKUP_KEEP_WEEKLY at least 0"
    )

# --- Logging --------------------------------------------------------------------
# "plain" (a line of text) or "json" (one object a line, for a log collector).
AVIS_LOG_FORMAT = env_str("AVIS_LOG_FORMAT", "plain")
if AVIS_LOG_FORMAT not in ("plain", "json"):
    raise ConfigurationError(f"AVIS_LOG_FORMAT={AVIS_LOG_FORMAT!r} must be plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "avis.observability.JsonFormatter"},
    },
    # Phone numbers, e-mails, tokens and customer ids never reach a log line (avis/logs.py); each
    # line written while a request is answered carries its X-Request-ID.
    "filters": {
        "redact": {"()": "avis.logs.RedactPersonalData"},
        "request_id": {"()": "avis.observability.RequestIdFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": AVIS_LOG_FORMAT,
            "filters": ["redact", "request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("AVIS_LOG_LEVEL", "INFO")},
    # The Huey consumer logs through its own handler; propagating too would print each line twice.
    "loggers": {
        "huey": {"propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # django-axes logs each refusal with the typed address; the audit trail keeps them instead.
        "axes": {"level": "WARNING"},
        # waitress warns "Task queue depth is N" for every request that waits for a thread: under a
        # burst of respondents (their own lane of threads, dashboard/.../serve.py) that is every
        # request, a line each and the CPU to write it; the queue's wait shows in the latency metrics.
        "waitress.queue": {"level": "ERROR"},
    },
}

# Batches of 10,000 interactions are several megabytes of JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("AVIS_MAX_REQUEST_BYTES", 64 * 1024 * 1024)

# Uploaded import files wait here between the upload, the dry run and the import
# (a directory every web process and worker shares when there are several machines).
IMPORT_DIR = Path(env_str("AVIS_IMPORT_DIR", str(VAR_DIR / "imports")))
IMPORT_MAX_MB = env_int("AVIS_IMPORT_MAX_MB", 200)
# The simulation page replays an uploaded history CSV in the request: larger files are refused.
AVIS_SIMULATION_MAX_MB = env_int("AVIS_SIMULATION_MAX_MB", 50)
