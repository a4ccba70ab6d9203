"""The settings fail at start-up, with the variable's name, on a value a deployment got wrong.

Each case starts a fresh interpreter with an environment built here from nothing, so no value
from the test run (or the developer's shell) leaks in, and loads the settings the way gunicorn,
celery and manage.py do.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management.utils import get_random_secret_key

from config.settings.base import INSECURE_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
SETUP = "import django; django.setup()"


def run(args: list[str], env: dict[str, str | None]) -> subprocess.CompletedProcess:
    """Run python with exactly these variables (a None value leaves the variable out)."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    full = {key: value for key, value in (base | env).items() if value is not None}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60)


def improperly_configured(result: subprocess.CompletedProcess) -> str:
    """The ImproperlyConfigured message itself, not the traceback around it (whose source lines
    quote every variable name the settings read)."""
    prefix = "django.core.exceptions.ImproperlyConfigured: "
    messages = [line.removeprefix(prefix) for line in result.stderr.splitlines() if line.startswith(prefix)]
    assert messages, f"no ImproperlyConfigured in stderr:\n{result.stderr[-3000:]}"
    return messages[-1]


@pytest.fixture
def deployment(tmp_path) -> dict[str, str]:
    """What an operator sets for a production deployment (SQLite stands in for PostgreSQL)."""
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": get_random_secret_key(),
        "ALLOWED_HOSTS": "gridcollect.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "redis://localhost:6379/0",
    }


def test_production_starts_with_a_deployments_variables(deployment):
    result = run(["-c", SETUP], deployment)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "secret_key",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param(INSECURE_SECRET_KEY, id="the-insecure-development-default"),
        pytest.param("Sh0rt-but-varied-key-0123456789", id="short"),
        pytest.param("a" * 64, id="long-but-one-character"),
    ],
)
def test_production_refuses_to_start_without_a_real_secret_key(deployment, secret_key):
    result = run(["-c", SETUP], deployment | {"SECRET_KEY": secret_key})
    assert result.returncode != 0
    assert "SECRET_KEY" in improperly_configured(result)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("SECURE_SSL_REDIRECT", "sometimes"),
        ("AXES_FAILURE_LIMIT", "five"),
        ("DATABASE_URL", "nonsense"),
        ("DATABASE_URL", "mysql://x"),
        ("CELERY_BROKER_URL", "amqp://x"),
        ("CELERY_RESULT_BACKEND", "amqp://x"),
    ],
)
def test_a_malformed_value_stops_start_up_naming_the_variable(deployment, name, value):
    result = run(["-c", SETUP], deployment | {name: value})
    assert result.returncode != 0
    assert name in improperly_configured(result)


def check_deploy(env: dict[str, str | None]) -> subprocess.CompletedProcess:
    args = ["manage.py", "check", "--deploy", "--settings=config.settings.production", "--fail-level", "WARNING"]
    # --settings decides; the variable is left out so manage.py's own default cannot mask it.
    return run(args, env | {"DJANGO_SETTINGS_MODULE": None})


def test_check_deploy_passes_without_a_warning_for_a_deployment(deployment):
    result = check_deploy(deployment)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS:" not in output and "ERRORS:" not in output


def test_check_deploy_flags_plain_http_as_docker_compose_serves_it_locally(deployment):
    # docker-compose.yml defaults SECURE_SSL_REDIRECT to 0 for http://localhost; a real deployment
    # behind TLS must turn it back on, and the deploy check says so.
    result = check_deploy(deployment | {"SECURE_SSL_REDIRECT": "0"})
    assert result.returncode != 0
    assert "security.W008" in result.stdout + result.stderr


def base_settings(env: dict[str, str | None]) -> dict:
    script = (
        f"{SETUP}; import json; from django.conf import settings as s; "
        "print(json.dumps({'TIME_ZONE': s.TIME_ZONE, 'CELERY_TIMEZONE': s.CELERY_TIMEZONE, "
        "'LANGUAGES': [code for code, _ in s.LANGUAGES], 'LANGUAGE_CODE': s.LANGUAGE_CODE}))"
    )
    result = run(["-c", script], {"DJANGO_SETTINGS_MODULE": "config.settings.base"} | env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_base_settings_default_to_china_time_and_offer_english_and_simplified_chinese():
    from django.conf.locale import LANG_INFO

    values = base_settings({})
    assert values["TIME_ZONE"] == "Asia/Shanghai"
    # Beat schedules run on the same clock as the staff who read their results.
    assert values["CELERY_TIMEZONE"] == "Asia/Shanghai"
    assert {"en", "zh-hans"} <= set(values["LANGUAGES"])
    assert values["LANGUAGE_CODE"] in values["LANGUAGES"]
    assert all(code in LANG_INFO for code in values["LANGUAGES"]), "a language Django does not know"


def test_the_time_zone_comes_from_the_environment():
    assert base_settings({"TIME_ZONE": "UTC"})["TIME_ZONE"] == "UTC"
