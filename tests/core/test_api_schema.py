import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_generates_without_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        env={"DJANGO_SETTINGS_MODULE": "config.settings.test", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "Error" not in result.stderr, result.stderr


def test_the_schema_and_swagger_ui_are_served_offline(client, manager):
    client.force_login(manager)
    schema = client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ["/api/v1/customers/", "/api/v1/customers/{account_no}/", "/api/v1/meters/{meter_no}/"]:
        assert path in paths
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in html  # served from our static files, no CDN
    assert "cdn" not in html.lower()
