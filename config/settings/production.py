"""Production settings: secure by default, refuses to start without a real SECRET_KEY."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import INSECURE_SECRET_KEY, SECRET_KEY
from .env import env_bool, env_int, env_redis_url, env_str

DEBUG = env_bool("DEBUG", False)
DEMO_USERS_ALLOWED = False
WHITENOISE_USE_FINDERS = False

if not SECRET_KEY or SECRET_KEY == INSECURE_SECRET_KEY or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters in production "
        "(python -c 'from django.core.management.utils import get_random_secret_key as k; print(k())')."
    )

# A deployment names its real services: falling back to a SQLite file or in-process tasks
# inside a container would lose data and jobs silently.
for _name in ("DATABASE_URL", "CELERY_BROKER_URL"):
    if not env_str(_name):
        raise ImproperlyConfigured(f"{_name} must be set in production.")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
# Off only for a plain-HTTP trial behind no proxy (docs/DEPLOYMENT.md); check --deploy warns then.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Health checks come from the load balancer over plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_redis_url("CACHE_URL") or env_str("CELERY_BROKER_URL"),
    }
}
