"""Settings, read from the environment only (see README, "Configuration")."""

import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from loyaltysite.env import envbool, envemail, envint, envlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
DEBUG = envbool("DEBUG", True)

# Embedded defaults (SQLite, file-based broker, mail folder) keep their files here.
VAR_DIR = Path(envstr("VAR_DIR") or BASE_DIR / "var")

SECRET_KEY = envstr("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])

# Links in email must name the public address: it cannot be guessed in production.
# `make run` sets it from the address it serves.
SITE_URL = envstr("SITE_URL", "http://localhost:8000" if DEBUG else "").rstrip("/")
if not SITE_URL:
    raise ImproperlyConfigured("SITE_URL must be set when DEBUG is off.")
_site = urlsplit(SITE_URL)
if _site.scheme not in ("http", "https") or not _site.netloc:
    raise ImproperlyConfigured(
        f"SITE_URL={SITE_URL!r} must be an http(s) URL such as https://surveys.example.com."
    )
CSRF_TRUSTED_ORIGINS = [f"{_site.scheme}://{_site.netloc}"]

INSTALLED_APPS = [
    "loyaltysite.apps.LoyaltyAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "surveys",
    "metrics",
]

MIDDLEWARE = [
    # First, so that it answers a HEAD after every other one has set its headers.
    "loyaltysite.middleware.head_without_body",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "loyaltysite.middleware.ContentSecurityPolicyMiddleware",
    "loyaltysite.middleware.security_headers",
    # Last, as axes asks: it turns a lockout found during the view into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "loyaltysite.urls"
WSGI_APPLICATION = "loyaltysite.wsgi.application"

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
            ],
        },
    },
]

DATABASE_URL = envstr("DATABASE_URL")
if DATABASE_URL:
    try:
        DATABASES = {
            "default": dj_database_url.parse(
                DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60), conn_health_checks=True
            )
        }
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # PostgreSQL's JIT compiles a report's aggregate for longer than it runs (the
        # SLA report over 100,000 cases: 340 ms of compiling for 330 ms of work).
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = f"-c jit=off {options.get('options', '')}".strip()
        # Django turns psycopg's prepared statements off, for connection poolers. Its own
        # queries bind on the client and are never prepared either way; this lets the
        # statements the project asks to prepare be so (a public answer's, which costs
        # PostgreSQL as much to plan as to run). Off behind a PgBouncer older than 1.21
        # in transaction pooling mode, which cannot keep them.
        if envbool("DB_PREPARED_STATEMENTS", True):
            options.setdefault("prepare_threshold", 5)  # psycopg's default
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "db.sqlite3"),
            "OPTIONS": {
                # Web, worker and scheduler write to this one file. A transaction takes
                # the write lock when it begins, waiting up to `timeout` seconds for
                # another's to end; SQLite's default takes it at the first write and
                # fails at once ("database is locked") when another wrote meanwhile.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
    # The SLA report's covering indexes (metrics.FollowUp) serve PostgreSQL; SQLite builds
    # them without their included columns, which is all it needs, and would say so on
    # every command.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = envstr("REDIS_URL")
if REDIS_URL and urlsplit(REDIS_URL).scheme not in ("redis", "rediss"):
    raise ImproperlyConfigured(f"REDIS_URL={REDIS_URL!r} must start with redis:// or rediss://.")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # The rate limit of the public link asks on every answer posted, and every page
            # may read the cache: a Redis that is down or hung fails within a second (the
            # limit then lets answers through) instead of holding the page.
            "OPTIONS": {"socket_connect_timeout": 0.3, "socket_timeout": 0.5},
        }
    }

# Argon2 for new and changed passwords; older hashes still verify and are upgraded at the
# next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed logins lock out a user name from a client address (django-axes), for a while.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
if LOGIN_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured(f"LOGIN_FAILURE_LIMIT={LOGIN_FAILURE_LIMIT} must be 1 or more.")
LOGIN_COOLOFF_MINUTES = envint("LOGIN_COOLOFF_MINUTES", 15)
if LOGIN_COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured(f"LOGIN_COOLOFF_MINUTES={LOGIN_COOLOFF_MINUTES} must be 1 or more.")
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
# Both together: a stranger guessing cannot lock a colleague out from their own desk.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The address as surveys.clients reads it, so TRUSTED_PROXY_COUNT applies here too.
AXES_CLIENT_IP_CALLABLE = "surveys.clients.client_address"
AXES_LOCKOUT_CALLABLE = "loyaltysite.accounts.locked_out"
AXES_RESET_ON_SUCCESS = True
# Only failures are needed; a log of every login would be personal data kept for nothing.
AXES_DISABLE_ACCESS_LOG = True
# Password reset emails asked for per hour, per client address and per email address.
PASSWORD_RESETS_PER_HOUR = envint("PASSWORD_RESETS_PER_HOUR", 5)
if PASSWORD_RESETS_PER_HOUR < 1:
    raise ImproperlyConfigured(
        f"PASSWORD_RESETS_PER_HOUR={PASSWORD_RESETS_PER_HOUR} must be 1 or more."
    )
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "metrics:overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("nl", _("Dutch"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["loyaltysite.formats"]
TIME_ZONE = envstr("TIME_ZONE", "Europe/Amsterdam")
# The one currency of order amounts, an ISO 4217 code.
CURRENCY = envstr("CURRENCY", "EUR")
if not re.fullmatch("[A-Z]{3}", CURRENCY):
    raise ImproperlyConfigured(f"CURRENCY={CURRENCY!r} must be a currency code such as EUR.")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Decided from the environment's DEBUG, not the test runner's, so tests serve the
# sources from static/ as development does.
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_USE_FINDERS = DEBUG
# Files served at the site's root: /favicon.ico, which browsers ask for unprompted.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Email: SMTP when EMAIL_HOST is set, otherwise every message is written to var/mail.
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "surveys@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where customers' answers to an agent's reply go: this address when set (a shared support
# inbox), else the agent's own.
SUPPORT_REPLY_TO = envemail("SUPPORT_REPLY_TO")
EMAIL_HOST = envstr("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = envint("EMAIL_PORT", 587)
    EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
    EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"

# Survey emails handed to the mail server per hour, at most: providers limit it.
SEND_RATE_PER_HOUR = envint("SEND_RATE_PER_HOUR", 1000)
if SEND_RATE_PER_HOUR < 1:
    raise ImproperlyConfigured(f"SEND_RATE_PER_HOUR={SEND_RATE_PER_HOUR} must be 1 or more.")

# Security. Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER to the header it
# sends, e.g. HTTP_X_FORWARDED_PROTO; Django then trusts that header's "https".
_proxy_header = envstr("SECURE_PROXY_SSL_HEADER")
if _proxy_header:
    SECURE_PROXY_SSL_HEADER = (_proxy_header, "https")
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_REFERRER_POLICY = "same-origin"
# How many proxies in front of the site append to X-Forwarded-For (surveys.clients): 0
# trusts no such header, so a forged one changes nothing.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured(f"TRUSTED_PROXY_COUNT={TRUSTED_PROXY_COUNT} must be 0 or more.")
X_FRAME_OPTIONS = "DENY"
# Webhook and Slack alert channels may only reach public addresses: a URL naming this
# machine or the internal network (a cloud's metadata service, Redis) is refused, unless
# this allows it, e.g. for a receiver on the same network.
WEBHOOK_ALLOW_PRIVATE_TARGETS = envbool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)

# Answers one client may post to one survey's public or personal link (surveys.ratelimit):
# a person answers once or twice; a script stuffing the ballot is turned away with 429.
PUBLIC_POSTS_PER_MINUTE = envint("PUBLIC_POSTS_PER_MINUTE", 10)
PUBLIC_POSTS_PER_DAY = envint("PUBLIC_POSTS_PER_DAY", 50)
for _name, _limit in [
    ("PUBLIC_POSTS_PER_MINUTE", PUBLIC_POSTS_PER_MINUTE),
    ("PUBLIC_POSTS_PER_DAY", PUBLIC_POSTS_PER_DAY),
]:
    if _limit < 1:
        raise ImproperlyConfigured(f"{_name}={_limit} must be 1 or more.")
# New-case alerts for one survey within a minute, at most; beyond them each alert channel
# gets one message saying how many cases opened (metrics.notifications).
CASE_ALERTS_PER_MINUTE = envint("CASE_ALERTS_PER_MINUTE", 10)
if CASE_ALERTS_PER_MINUTE < 1:
    raise ImproperlyConfigured(
        f"CASE_ALERTS_PER_MINUTE={CASE_ALERTS_PER_MINUTE} must be 1 or more."
    )
# No inline script anywhere (static/js holds them all). Inline styles are allowed: the
# charts' bars and the scales' layout are style attributes computed on the server, which
# no nonce can cover. A survey may name the sites that frame it (Survey.frame_origins).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        # Bootstrap draws its form controls' icons as data: SVG images.
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# The REST API (/api/v1/): Bearer keys, JSON only, errors as {"message", "field"}.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["surveys.api_access.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["surveys.api_access.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["surveys.api_access.PerKeyRateLimit"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "surveys.api_access.errors_as_json",
    "UNAUTHENTICATED_USER": None,
}
# Requests one API key may make in a minute; more are answered 429 with Retry-After.
API_REQUESTS_PER_MINUTE = envint("API_REQUESTS_PER_MINUTE", 600)
if API_REQUESTS_PER_MINUTE < 1:
    raise ImproperlyConfigured(
        f"API_REQUESTS_PER_MINUTE={API_REQUESTS_PER_MINUTE} must be 1 or more."
    )
SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty surveys API",
    "DESCRIPTION": "Customers, survey requests, responses, follow-up cases, orders, scores "
    "and KPIs. Give the key as `Authorization: Bearer "
    "<key>`; staff make keys in the admin (API keys).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page's scripts from this site (the sidecar package), as CSP requires.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Load balancers probe each machine over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Celery: Redis when REDIS_URL is set; otherwise a broker in files under var/ that needs
# no server, so a bare machine runs web, worker and scheduler.
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        # Longer than any task may run and any retry may wait, or Redis would hand the
        # message to a second worker.
        "visibility_timeout": 2 * 60 * 60,
        # A publish from a request waits well under a second for a broker that is down
        # or hung, and connects once: kombu would otherwise retry the connection for
        # seconds, whatever the publish's own retry says (celery issue 6046). The answer
        # is saved already, and a sweeper sends what could not be published.
        "socket_connect_timeout": 0.3,
        "socket_timeout": 0.5,
        "max_retries": 0,
    }
else:
    _queue, _control = VAR_DIR / "celery" / "queue", VAR_DIR / "celery" / "control"
    _queue.mkdir(parents=True, exist_ok=True)
    _control.mkdir(exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "control_folder": str(_control),
        "store_processed": False,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Processing an answer waits on the database about half of the time, so a worker runs
# two processes per core to keep the cores busy (bench/worker.py measures it).
CELERY_WORKER_CONCURRENCY = envint("WORKER_CONCURRENCY", 2 * (os.cpu_count() or 1))
if CELERY_WORKER_CONCURRENCY < 1:
    raise ImproperlyConfigured(f"WORKER_CONCURRENCY={CELERY_WORKER_CONCURRENCY} must be 1 or more.")
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery closes the database connection after every task unless told to keep it; a new
# connection per task halves a worker's throughput. Broken or old connections are still
# closed around each task (loyaltysite/celery.py), as Django does around each request.
CELERY_DB_REUSE_MAX = 1000
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "sweep-responses": {"task": "metrics.tasks.sweep_responses", "schedule": 60.0},
    "recompute-scores": {
        "task": "metrics.tasks.recompute_scores",
        "schedule": crontab(hour=3, minute=30),
    },
    "recompute-queue-counts": {
        "task": "metrics.tasks.recompute_queue_counts",
        "schedule": crontab(hour=3, minute=45),
    },
    "resend-notifications": {"task": "metrics.tasks.resend_notifications", "schedule": 60.0},
    "escalate-and-remind": {"task": "metrics.tasks.escalate_and_remind", "schedule": 300.0},
    "send-digests": {"task": "metrics.tasks.send_digests", "schedule": crontab(hour=7, minute=30)},
    "expire-free-text": {
        "task": "metrics.tasks.expire_free_text",
        "schedule": crontab(hour=4, minute=15),
    },
    "dispatch-survey-emails": {"task": "metrics.tasks.dispatch_survey_emails", "schedule": 60.0},
    "send-survey-requests": {"task": "metrics.tasks.send_survey_requests", "schedule": 60.0},
    "send-survey-reminders": {"task": "metrics.tasks.send_survey_reminders", "schedule": 3600.0},
    "schedule-repeating-surveys": {
        "task": "metrics.tasks.schedule_repeating_surveys",
        "schedule": 900.0,
    },
    "resume-order-imports": {"task": "metrics.tasks.resume_order_imports", "schedule": 60.0},
    "resume-customer-imports": {
        "task": "surveys.tasks.resume_customer_imports",
        "schedule": 60.0,
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# One line per record on stderr, where gunicorn, Celery and the process manager collect
# it: when, how bad, which process and module, what.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
}
