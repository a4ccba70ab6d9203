"""Settings shared by every way of running GridCollect.

All values come from environment variables with defaults that are safe on a developer's
machine (the "embedded default": SQLite, tasks run in-process). `production.py` tightens
them; `test.py` adapts them for the test suite.
"""

from pathlib import Path

from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from .env import env_bool, env_database, env_int, env_list, env_redis_url, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# Only ever used on a developer's machine; production.py refuses to start with it.
INSECURE_SECRET_KEY = "django-insecure-gridcollect-local-development-key-change-me"
SECRET_KEY = env_str("SECRET_KEY", INSECURE_SECRET_KEY)
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Demo users with known passwords may be created only where this is true (never in production).
DEMO_USERS_ALLOWED = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "simple_history",
    # The domain, floor by floor (DESIGN.md "Floors"): no app imports one listed after it.
    "core",
    "customers",
    "billing",
    "collection",
    "risk",
    "dashboards",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "core.middleware.LoginRequiredEverywhereMiddleware",
    # Axes last, as its documentation asks, so it sees the outcome of authentication.
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
                "core.context_processors.roles",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# django-axes: lock an account+address after repeated failures (brute force on staff logins).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 30) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Lets the development server serve static files through WhiteNoise without collectstatic.
WHITENOISE_USE_FINDERS = DEBUG

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "GridCollect API",
    "DESCRIPTION": "Large-customer electricity bill collection: archive, billing, collections and risk.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RegionKindEnum": "customers.choices.RegionKindChoices",
        "ServiceVisitKindEnum": "customers.choices.ServiceVisitKindChoices",
        "BillKindEnum": "billing.choices.BillKindChoices",
        "BillLineKindEnum": "billing.choices.BillLineKindChoices",
        "BillStatusEnum": "billing.choices.BillStatusChoices",
        "BillingRunStatusEnum": "billing.choices.BillingRunStatusChoices",
        "PaymentStatusEnum": "billing.choices.PaymentStatusChoices",
        "PaymentChannelEnum": "billing.choices.PaymentChannelChoices",
        "DunningNoticeStatusEnum": "collection.choices.DunningNoticeStatusChoices",
        "CollectionCaseStatusEnum": "collection.choices.CollectionCaseStatusChoices",
        "PromiseStatusEnum": "collection.choices.PromiseStatusChoices",
        "ActivityKindEnum": "collection.choices.ActivityKindChoices",
        "ArrangementStatusEnum": "collection.choices.ArrangementStatusChoices",
        "CutoffStatusEnum": "collection.choices.CutoffStatusChoices",
        "ControlActionEnum": "billing.choices.ControlActionChoices",
        "ControlStatusEnum": "billing.choices.ControlStatusChoices",
        "ControlOriginEnum": "billing.choices.ControlOriginChoices",
        "PrepaidStateEnum": "billing.choices.PrepaidStateChoices",
        "PrepaidEntryKindEnum": "billing.choices.PrepaidEntryKindChoices",
        "ScorecardStatusEnum": "risk.choices.ScorecardStatusChoices",
        "CriterionSourceEnum": "risk.choices.CriterionSourceChoices",
        "CriterionMethodEnum": "risk.choices.CriterionMethodChoices",
        "ScoreOverrideEnum": "risk.choices.OverrideChoices",
        "RiskAlertKindEnum": "risk.choices.AlertKindChoices",
        "PolicyProposalKindEnum": "risk.choices.ProposalKindChoices",
        "PolicyProposalStatusEnum": "risk.choices.ProposalStatusChoices",
    },
}

# Celery. Without a broker (the embedded default) tasks run in-process, so a laptop needs no Redis.
CELERY_BROKER_URL = env_redis_url("CELERY_BROKER_URL")
CELERY_RESULT_BACKEND = env_redis_url("CELERY_RESULT_BACKEND") or CELERY_BROKER_URL or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True  # a worker dying mid-task leaves the message for another worker
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Named queues so operators can give each kind of work its own workers (docker-compose.yml).
CELERY_TASK_ROUTES = {
    "customers.tasks.notification_*": {"queue": "notify"},
    "customers.tasks.announcement_*": {"queue": "batch"},
    "*.tasks.notify_*": {"queue": "notify"},
    "billing.tasks.billing_run*": {"queue": "batch"},
    "*.tasks.batch_*": {"queue": "batch"},
    "dashboards.tasks.*": {"queue": "batch"},
    "risk.tasks.score_*": {"queue": "batch"},
}
CELERY_BEAT_SCHEDULE: dict = {
    # Yesterday's penalties, early, before collectors start the day (Asia/Shanghai).
    "accrue-penalties": {
        "task": "billing.tasks.batch_accrue_penalties",
        "schedule": crontab(hour=1, minute=30),
    },
    # Readings arrive overnight from the metering system; statistics and forecasts follow.
    "daily-stats": {
        "task": "billing.tasks.batch_daily_stats",
        "schedule": crontab(hour=5, minute=0),
    },
    # After the statistics: deduct the day's charge from prepaid accounts, warn, trip.
    "prepaid-run": {"task": "billing.tasks.batch_prepaid_run", "schedule": crontab(hour=6, minute=0)},
    "control-send-due": {"task": "billing.tasks.control_send_due", "schedule": 60.0},
    "notifications-send-due": {"task": "customers.tasks.notification_send_due", "schedule": 60.0},
    # Instalments (分次结算) due to be issued, after the night's forecasts and the month-end run.
    "instalments-issue": {"task": "billing.tasks.batch_instalments_issue", "schedule": crontab(hour=6, minute=10)},
    # Dunning in working hours, after the night's penalties (messages queued at night wait anyway).
    "dunning-run": {"task": "collection.tasks.dunning_run_task", "schedule": crontab(hour=9, minute=0)},
    "cutoff-restore": {"task": "collection.tasks.cutoff_restore_task", "schedule": 300.0},
    # The dashboards' summary: rebuilt each night after the penalties, then kept current with
    # what changes during the day (payments, bills, forecasts, archive).
    "dashboard-rebuild": {"task": "dashboards.tasks.summary_rebuild_task", "schedule": crontab(hour=2, minute=30)},
    "dashboard-refresh": {"task": "dashboards.tasks.summary_refresh_task", "schedule": 300.0},
    # Nightly scoring after the statistics and penalties, then the day's early warnings.
    "risk-scoring": {"task": "risk.tasks.score_customers_task", "schedule": crontab(hour=3, minute=0)},
    "risk-alerts": {"task": "risk.tasks.alerts_raise_task", "schedule": crontab(hour=6, minute=30)},
    "monthly-billing": {
        "task": "billing.tasks.batch_monthly_billing",
        "schedule": crontab(day_of_month=1, hour=2, minute=0),
    },
}

# The main menu: (URL name, label, roles that see it or None for every role). Which rows a
# page shows is still decided by the page's own scoping; this only hides what a role cannot use.
# The navbar: (URL name, label, roles or None for every role), or a dropdown (label, [entries])
# shown when any entry in it is; one visible entry shows as a plain link. Grouped so the bar
# fits a 1280-pixel screen; every URL name stays reachable.
# What each kind of outbox message is, for the Messages page (the kinds are written by every
# floor; the outbox lives in customers, which may not import them). An unknown kind shows as is.
NOTIFICATION_KIND_LABELS = {
    "dunning_reminder": _("Payment reminder"),
    "dunning_demand": _("Formal payment demand"),
    "dunning_suspension": _("Notice of supply suspension"),
    "prepaid_warn7": _("Prepaid balance: 7 days left"),
    "prepaid_warn3": _("Prepaid balance: 3 days left"),
    "prepaid_exhausted": _("Prepaid balance exhausted"),
    "control_escalation": _("Supply command not acknowledged"),
    "control_approval": _("Supply command awaiting approval"),
    "control_gave_up": _("Supply command given up"),
    "guarantee_expiring": _("Guarantee expiring"),
    "announcement_planned_outage": _("Notice: planned outage"),
    "announcement_tariff_change": _("Notice: tariff change"),
    "announcement_service": _("Notice: service"),
}

NAVIGATION = [
    ("collection:worklist", _("Today's work"), None),
    ("billing:yesterday", _("Yesterday"), None),
    # Collectors may open the dashboard for their own figures (it scopes like every list); the
    # entry is for leaders and managers, whose work it is (DESIGN.md "Dashboards").
    ("dashboards:arrears", _("Dashboard"), ["area_leader", "manager"]),
    (
        _("Collections"),
        [
            ("collection:notice_review", _("Notices to review"), ["area_leader", "manager"]),
            ("collection:cutoff_list", _("Cut-off orders"), ["collector", "area_leader", "manager"]),
            ("collection:arrangement_list", _("Arrangements"), ["collector", "area_leader", "manager"]),
            ("collection:guarantee_list", _("Guarantees"), ["collector", "area_leader", "manager"]),
            ("collection:responsibility", _("Recovery"), None),
            ("customers:notifications", _("Messages"), ["area_leader", "manager"]),
        ],
    ),
    (
        _("Customers"),
        [
            ("customers:list", _("Customers"), None),
            ("risk:score_list", _("Credit grades"), None),
            ("risk:alert_list", _("Risk alerts"), ["collector", "area_leader", "manager"]),
            ("customers:announcement_list", _("Notices to customers"), ["area_leader", "manager"]),
        ],
    ),
    (
        _("Billing"),
        [
            ("billing:bill_list", _("Bills"), None),
            ("billing:payment_list", _("Payments"), None),
            ("billing:runs", _("Billing runs"), ["manager", "system"]),
            ("billing:reading_upload", _("Upload readings"), ["manager", "system"]),
            ("billing:control_commands", _("Control commands"), ["manager", "area_leader"]),
        ],
    ),
    ("swagger-ui", _("API"), ["manager", "system"]),
]

# Panels of the customer page served by the apps above the archive (DESIGN.md "Floors"):
# (URL name taking the account number, title). The archive's page loads each with htmx.
CUSTOMER_PAGE_PANELS = [
    ("collection:customer_panel", _("Collections: calls, promises and notices")),
    ("billing:customer_panel", _("Bills and payments")),
    ("risk:customer_panel", _("Credit grade: reasons, trend and alerts")),
    ("billing:usage_panel", _("Consumption, forecast and exposure (90 days)")),
    ("billing:prepaid_panel", _("Prepaid account and supply control")),
    ("collection:cutoff_panel", _("Cut-off orders")),
    ("collection:agreements_panel", _("Agreements: payment arrangements and guarantees")),
    ("customers:messages_panel", _("Messages sent: reminders, warnings and notices")),
]

# The archive's customer list filters by arrears on a date (`in_arrears_on`, `clear_on`, the
# dashboards' drill-down); the figures are billing's, a floor above, so it names the selector.
CUSTOMER_ARREARS_AS_OF = "billing.selectors.customers_with_arrears_as_of"

# The embedded SQLite cannot enforce a unique constraint over a nullable column; PostgreSQL
# does, and the summary writer replaces a date's rows as a whole on both.
SILENCED_SYSTEM_CHECKS = ["models.W047"]

# Risk (DESIGN.md rule 8): industries the policy treats as energy-intensive or over-capacity
# (高耗能 / 产能过剩), which lose the "policy exposure" points of the default scorecard.
RISK_ENERGY_INTENSIVE_INDUSTRIES = env_list("RISK_ENERGY_INTENSIVE_INDUSTRIES", ["steel", "chemical", "cement",
                                                                                 "non_ferrous"])  # fmt: skip
RISK_SCORING_CHUNK = env_int("RISK_SCORING_CHUNK", 1000)
# Rule 9: 14-day consumption this share (or more) below the weekday-adjusted baseline.
RISK_CONSUMPTION_DROP = 0.30
# Rows other floors add to the collector's worklist without collections importing them:
# callables (user, day, scope) -> [(customer_id, reason, detail, amount, action)].
WORKLIST_SOURCES = ["risk.selectors.worklist_alerts"]

# Remote supply control: the gateway to the meters' head-end (docs/GATEWAYS.md).
CONTROL_GATEWAY = env_str("CONTROL_GATEWAY", "billing.gateways.SimulatedTerminalGateway")
CONTROL_MAX_ATTEMPTS = env_int("CONTROL_MAX_ATTEMPTS", 5)
CONTROL_HEADEND_URL = env_str("CONTROL_HEADEND_URL", "")
CONTROL_HEADEND_TOKEN = env_str("CONTROL_HEADEND_TOKEN", "")
CONTROL_HEADEND_TIMEOUT = env_int("CONTROL_HEADEND_TIMEOUT", 20)

# The notification outbox: one backend per channel (customers/notifications.py).
NOTIFICATION_BACKENDS = {
    "sms": env_str("NOTIFICATION_SMS_BACKEND", "customers.notifications.LoggingBackend"),
    "wechat": env_str("NOTIFICATION_WECHAT_BACKEND", "customers.notifications.LoggingBackend"),
    "email": env_str("NOTIFICATION_EMAIL_BACKEND", "customers.notifications.EmailBackend"),
}
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 5)
# A row still `sending` this long after its claim was left by a dead worker: failed for a person to check.
NOTIFICATION_STUCK_AFTER_SECONDS = env_int("NOTIFICATION_STUCK_AFTER_SECONDS", 600)
# Only for customers.notifications.HttpGatewayBackend (the provider's SMS / WeChat gateway).
NOTIFICATION_GATEWAY_URLS = {
    "sms": env_str("NOTIFICATION_SMS_GATEWAY_URL", ""),
    "wechat": env_str("NOTIFICATION_WECHAT_GATEWAY_URL", ""),
}
NOTIFICATION_GATEWAY_TOKEN = env_str("NOTIFICATION_GATEWAY_TOKEN", "")
NOTIFICATION_GATEWAY_TIMEOUT = env_int("NOTIFICATION_GATEWAY_TIMEOUT", 10)  # seconds, at most half the stuck time
NOTIFICATION_QUIET_HOURS = (21, 8)  # customer messages queued 21:00–08:00 wait until 08:00

# Prepaid accounts (DESIGN.md rule 5): warnings at these days of average charge left.
PREPAID_WARNING_DAYS = (7, 3)
PREPAID_AVERAGE_DAYS = 30
PREPAID_CATCH_UP_DAYS = 7

# 分次结算: an instalment is issued this many days before its due date.
INSTALMENT_ISSUE_LEAD_DAYS = env_int("INSTALMENT_ISSUE_LEAD_DAYS", 5)

# How far back a payment's received date may lie (older money is posted today; see DESIGN.md).
PAYMENT_MAX_BACKDATE_DAYS = env_int("PAYMENT_MAX_BACKDATE_DAYS", 45)

# Largest reading batch one API request may carry (the daily file goes through import_readings).
READINGS_MAX_BATCH = env_int("READINGS_MAX_BATCH", 50000)

# Each process its own memory, unless CACHE_URL names a Redis shared by every worker (production
# settings default it to the broker's): the dashboards' cached answers are then computed once for
# all workers.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_redis_url("CACHE_URL")}
    if env_redis_url("CACHE_URL")
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
# Dashboard answers are cached until the summary changes (the key carries its version); this is
# only the upper bound.
DASHBOARD_CACHE_SECONDS = env_int("DASHBOARD_CACHE_SECONDS", 600)

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "GridCollect <noreply@gridcollect.local>")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
