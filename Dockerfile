# GridCollect image: one image for every process of the full stack (web, workers, beat);
# docker-compose.yml chooses the process with `command`. See docs/DEPLOYMENT.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

# gettext compiles the translations (zh-hans) into the image; nothing else is needed from Debian,
# because psycopg[binary] ships its own libpq.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*

# The dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
# `[tool.setuptools] packages = []` makes this a metadata-only install: pip installs every pinned
# dependency and no project code; the code runs from /app (PYTHONPATH) like manage.py does.
COPY pyproject.toml /tmp/build/pyproject.toml
RUN pip install /tmp/build && rm -rf /tmp/build

WORKDIR /app
COPY . .

# Static files and translations are baked in at build time. Production settings refuse to load
# without a real-looking SECRET_KEY, so this step alone gets a throwaway one: it signs nothing,
# and the running containers take theirs from the environment.
RUN SECRET_KEY=build-time-only-collectstatic-key-that-never-signs-anything-0123456789 \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 CELERY_BROKER_URL=redis://localhost:6379/0 \
    sh -c 'python manage.py collectstatic --noinput --verbosity 0 \
    && if find . -name "*.po" -path "*/LC_MESSAGES/*" | grep -q .; then python manage.py compilemessages --verbosity 0; fi'

# The code and static files stay root-owned and read-only to the process; the only place it
# writes is /var/lib/gridcollect (celery beat's schedule, a named volume in docker-compose.yml).
RUN groupadd --system --gid 10001 gridcollect \
    && useradd --system --uid 10001 --gid gridcollect --home-dir /var/lib/gridcollect --shell /usr/sbin/nologin gridcollect \
    && install -d -o gridcollect -g gridcollect /var/lib/gridcollect
USER gridcollect

EXPOSE 8000
# The web process alone. Migrations are a release step: docker-compose.yml runs them before
# gunicorn starts; elsewhere run `python manage.py migrate --noinput` once per release.
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
