"""Settings for the test suite.

DATABASE_URL and CELERY_BROKER_URL are set by scripts/testenv.py to throwaway PostgreSQL and
Redis servers. Tasks still run eagerly inside tests so each test sees its own transaction;
the worker integration test switches eager mode off to exercise a real worker.
"""

from .base import *  # noqa: F403
from .base import CELERY_BROKER_URL

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never in production
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LANGUAGE_CODE = "en"
AXES_VERBOSE = False
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"axes": {"level": "WARNING"}, "django.request": {"level": "ERROR"}},
}

import os as _os  # noqa: E402
from pathlib import Path as _Path  # noqa: E402

if _os.environ.get("GRIDCOLLECT_LOCALE_DIR"):
    # The catalogue-completeness test extracts into a scratch copy instead of the real locale/.
    LOCALE_PATHS = [_Path(_os.environ["GRIDCOLLECT_LOCALE_DIR"])]
