"""The full-stack files (docker-compose.yml, Dockerfile, .dockerignore) agree with the code.

No Docker engine is needed: the files are read as data and held against what the settings
actually read, route and serve. The web service's health check is run against a real gunicorn
with production settings, because a Host header that ALLOWED_HOSTS refuses makes Django
answer 400 before /healthz is ever reached.
"""

import ast
import importlib.util
import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import time
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.conf import settings
from django.core.management.utils import get_random_secret_key
from django.urls import reverse

from config.settings.env import env_database, env_redis_url

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

ENV_HELPERS = {"env_str", "env_bool", "env_int", "env_list", "env_database", "env_redis_url"}
# Read by Django itself to find the settings, not by the settings files.
READ_OUTSIDE_SETTINGS = {"DJANGO_SETTINGS_MODULE"}
REQUIRED = {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"}
# What an operator puts in .env beside docker-compose.yml (docs/DEPLOYMENT.md).
DOT_ENV = {"SECRET_KEY": "compose-test-" + secrets.token_hex(32), "POSTGRES_PASSWORD": secrets.token_hex(12)}


def settings_env_names() -> set[str]:
    """Every variable name the settings files pass to an env_* helper, found in their source."""
    names = set()
    for path in sorted((ROOT / "config" / "settings").glob("*.py")):
        if path.name == "test.py":  # configures the test suite, never a deployment
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            helper = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            first = node.args[0]
            if helper in ENV_HELPERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


class MissingVariable(Exception):
    pass


_INTERPOLATION = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(value, env: dict[str, str]):
    """Compose's ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error} and $$."""
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg")
        present = name in env
        set_and_not_empty = present and env[name] != ""
        if op == ":-":
            return env[name] if set_and_not_empty else arg
        if op == "-":
            return env[name] if present else arg
        if op == ":?" and not set_and_not_empty or op == "?" and not present:
            raise MissingVariable(f"{name}: {arg}")
        return env.get(name, "")

    parts = value.split("$$")  # an escaped dollar reaches the container as one "$"
    return "$".join(_INTERPOLATION.sub(substitute, part) for part in parts)


def environment_of(service: dict) -> dict:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        pairs = (item.split("=", 1) if "=" in item else (item, None) for item in environment)
        environment = dict(pairs)
    return environment


def command_tokens(command) -> list[str]:
    """A service command as argv; `sh -c "..."` is unwrapped into the words of its script."""
    tokens = shlex.split(command) if isinstance(command, str) else [str(part) for part in command]
    if tokens[:2] == ["sh", "-c"]:
        return shlex.split(tokens[2])
    return tokens


def option_values(tokens: list[str], *names: str) -> list[str]:
    values = []
    for index, token in enumerate(tokens):
        for name in names:
            if token == name and index + 1 < len(tokens):
                values.append(tokens[index + 1])
            elif token.startswith(f"{name}="):
                values.append(token.split("=", 1)[1])
    return values


def celery_role(tokens: list[str]) -> str | None:
    if tokens[:1] != ["celery"]:
        return None
    return next((token for token in tokens[1:] if token in ("worker", "beat")), None)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def app_services(services) -> dict:
    """The services that run GridCollect's own image."""
    return {name: service for name, service in services.items() if "build" in service}


@pytest.fixture(scope="module")
def app_env(app_services) -> dict:
    return {key: interpolate(value, DOT_ENV) for key, value in environment_of(app_services["web"]).items()}


def test_the_stack_has_its_six_services(services, app_services):
    assert {"postgres", "redis", "web", "worker", "worker-batch", "beat"} <= set(services)
    assert {"web", "worker", "worker-batch", "beat"} <= set(app_services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")


def test_postgres_and_redis_report_their_health_and_keep_data_on_named_volumes(compose, services):
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])
    for name in ("postgres", "redis"):
        volume_names = {volume.split(":", 1)[0] for volume in services[name]["volumes"]}
        assert volume_names & set(compose["volumes"]), f"{name} keeps its data in the container only"


def test_web_migrates_first_then_serves_config_wsgi_on_port_8000(services):
    web = services["web"]
    script = " ".join(command_tokens(web["command"]))
    migrate = re.search(r"manage\.py migrate\b", script)
    gunicorn = re.search(r"gunicorn config\.wsgi\b", script)
    assert migrate and gunicorn, script
    # "&&": a failed migration must stop the start, not leave gunicorn serving an old schema.
    assert migrate.end() < gunicorn.start() and "&&" in script[migrate.end() : gunicorn.start()], script
    assert settings.WSGI_APPLICATION.startswith("config.wsgi")
    assert re.search(r"(--bind|-b)[ =]0\.0\.0\.0:8000\b", script), script

    targets = []
    for port in web["ports"]:
        if isinstance(port, dict):
            targets.append(str(port["target"]))
        else:
            targets.append(interpolate(str(port), DOT_ENV).split(":")[-1].split("/")[0])
    assert "8000" in targets


def test_web_healthcheck_asks_healthz_through_a_script_in_the_repository(services):
    check = [str(part) for part in services["web"]["healthcheck"]["test"]]
    urls = [part for part in check if part.startswith("http")]
    assert urls and urlsplit(urls[0]).path == reverse("healthz")
    assert urlsplit(urls[0]).port == 8000
    scripts = [part for part in check if part.endswith(".py")]
    assert scripts and all((ROOT / script).is_file() for script in scripts), check


def test_workers_consume_exactly_the_routed_queues(app_services):
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    expected = routed | {settings.CELERY_TASK_DEFAULT_QUEUE}
    consumed: set[str] = set()
    workers = []
    for name, service in app_services.items():
        tokens = command_tokens(service.get("command") or [])
        if celery_role(tokens) != "worker":
            continue
        workers.append(name)
        assert option_values(tokens, "-A", "--app") == ["config"], f"{name}: {tokens}"
        queues = option_values(tokens, "-Q", "--queues")
        # A worker without -Q consumes only the default queue.
        for value in queues or [settings.CELERY_TASK_DEFAULT_QUEUE]:
            consumed |= {queue.strip() for queue in value.split(",") if queue.strip()}
    assert {"worker", "worker-batch"} <= set(workers)
    assert consumed == expected, f"consumed {sorted(consumed)}, routed {sorted(expected)}"


def test_exactly_one_beat_runs_the_config_app(app_services):
    beats = {}
    for name, service in app_services.items():
        tokens = command_tokens(service.get("command") or [])
        if celery_role(tokens) == "beat":
            beats[name] = tokens
    assert list(beats) == ["beat"]
    assert option_values(beats["beat"], "-A", "--app") == ["config"]


def test_the_settings_scan_finds_the_variables_a_deployment_must_set():
    missing = REQUIRED - READ_OUTSIDE_SETTINGS - settings_env_names()
    assert not missing, f"the settings no longer read {sorted(missing)}"


def test_app_services_set_only_variables_the_settings_read(app_services):
    known = settings_env_names() | READ_OUTSIDE_SETTINGS
    for name, service in app_services.items():
        unknown = set(environment_of(service)) - known
        assert not unknown, f"{name} sets {sorted(unknown)}, which no settings file reads (a typo?)"


def test_app_services_share_one_environment_with_the_required_values(app_services, app_env):
    for name, service in app_services.items():
        env = {key: interpolate(value, DOT_ENV) for key, value in environment_of(service).items()}
        assert env == app_env, f"{name} runs with a different environment from web"
    missing = {key for key in REQUIRED if not app_env.get(key)}
    assert not missing
    assert app_env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert app_env["SECRET_KEY"] == DOT_ENV["SECRET_KEY"]


@pytest.mark.parametrize(
    ("secret", "service"), [("SECRET_KEY", "web"), ("POSTGRES_PASSWORD", "web"), ("POSTGRES_PASSWORD", "postgres")]
)
@pytest.mark.parametrize("how", ["unset", "empty"])
def test_compose_refuses_to_start_without_a_secret(services, secret, service, how):
    env = {key: value for key, value in DOT_ENV.items() if key != secret}
    if how == "empty":
        env[secret] = ""
    with pytest.raises(MissingVariable, match=secret):
        for value in environment_of(services[service]).values():
            interpolate(value, env)


def test_database_url_reaches_the_postgres_service_with_its_credentials(services, app_env, monkeypatch):
    url = urlsplit(app_env["DATABASE_URL"])
    assert url.scheme in ("postgres", "postgresql")
    assert url.hostname == "postgres" and "postgres" in services
    assert url.port in (None, 5432)
    postgres_env = {key: interpolate(value, DOT_ENV) for key, value in environment_of(services["postgres"]).items()}
    assert url.username == postgres_env["POSTGRES_USER"]
    assert url.password == postgres_env["POSTGRES_PASSWORD"]
    assert url.path.lstrip("/") == postgres_env["POSTGRES_DB"]
    # And the settings' own parser accepts it as PostgreSQL.
    monkeypatch.setenv("COMPOSE_DATABASE_URL", app_env["DATABASE_URL"])
    config = env_database("COMPOSE_DATABASE_URL", "")
    assert config["ENGINE"] == "django.db.backends.postgresql" and config["HOST"] == "postgres"


def test_broker_and_cache_urls_reach_the_redis_service(services, app_env, monkeypatch):
    for key in ("CELERY_BROKER_URL", "CACHE_URL"):
        if key not in app_env:
            continue
        monkeypatch.setenv(key, app_env[key])
        assert urlsplit(env_redis_url(key)).hostname == "redis" and "redis" in services, key
    assert urlsplit(app_env["CELERY_BROKER_URL"]).path != urlsplit(app_env.get("CACHE_URL", "")).path


def test_plain_http_is_the_local_default_and_an_operator_can_turn_the_redirect_on(app_services):
    raw = environment_of(app_services["web"])["SECURE_SSL_REDIRECT"]
    assert interpolate(raw, DOT_ENV) == "0"
    assert interpolate(raw, {**DOT_ENV, "SECURE_SSL_REDIRECT": "1"}) == "1"


def test_every_dependency_waits_for_a_healthy_service(services, app_services):
    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on without conditions starts too early"
        for dependency, rule in depends_on.items():
            assert rule.get("condition") == "service_healthy", f"{name} -> {dependency}"
            assert "healthcheck" in services[dependency], f"{name} waits on {dependency}, which has no healthcheck"
    for name in app_services:
        assert {"postgres", "redis"} <= set(services[name]["depends_on"]), name


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_the_image_is_python_311_slim_installs_from_pyproject_and_runs_as_non_root():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert "pip install /tmp/build" in runs or "pip install ." in runs
    assert "collectstatic" in runs
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0"), "the app must not run as root"


def test_the_dockerfile_and_compose_commands_name_files_that_exist(services):
    instructions = dockerfile_instructions()
    for keyword, rest in instructions:
        if keyword == "COPY":
            *sources, _ = rest.split()
            assert all((ROOT / source).exists() for source in sources if not source.startswith("--")), rest
    commands = [json.loads(rest) for keyword, rest in instructions if keyword in ("CMD", "ENTRYPOINT")]
    commands += [command_tokens(service["command"]) for service in services.values() if "build" in service]
    for tokens in commands:
        for index, token in enumerate(tokens):
            if token.endswith((".py", ".sh")) and not token.startswith("/"):
                assert (ROOT / token).is_file(), token
            if token == "gunicorn":
                module = tokens[index + 1].split(":")[0]
                assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module
            if token in ("-A", "--app"):
                assert (ROOT / tokens[index + 1] / "celery.py").is_file(), tokens


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(args, cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=timeout)


def test_the_build_time_key_lets_collectstatic_load_production_settings():
    runs = " ".join(rest for keyword, rest in dockerfile_instructions() if keyword == "RUN")
    key = re.search(r"SECRET_KEY=(\S+)", runs)
    assert key, "the collectstatic step needs a throwaway SECRET_KEY"
    build_env = dict(re.findall(r"\b(DATABASE_URL|CELERY_BROKER_URL)=(\S+)", runs))
    assert set(build_env) == {"DATABASE_URL", "CELERY_BROKER_URL"}, "production settings need both to load"
    result = run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--dry-run", "--verbosity", "0"],
        {"DJANGO_SETTINGS_MODULE": "config.settings.production", "SECRET_KEY": key.group(1), **build_env},
    )
    assert result.returncode == 0, result.stderr


def test_dockerignore_keeps_secrets_and_local_state_out_and_the_code_in():
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    patterns = [pattern.strip("/") for pattern in patterns if pattern and not pattern.startswith(("#", "!"))]

    def ignored(path: str) -> bool:
        return any(fnmatch(path, pattern) for pattern in patterns)

    for path in (".git", ".venv", ".env", "db.sqlite3", "staticfiles"):
        assert ignored(path), f"{path} would be sent into the image"
    needed = ["manage.py", "pyproject.toml", "config", "core", "customers", "billing", "collection", "risk"]
    needed += ["templates", "static", "locale", "docker", "docker/healthcheck.py"]
    for path in needed:
        assert not ignored(path), f"{path} is needed in the image but .dockerignore drops it"


def load_healthcheck():
    spec = importlib.util.spec_from_file_location("compose_healthcheck", ROOT / "docker" / "healthcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("allowed_hosts", "host"),
    [
        ("gridcollect.example.com,localhost", "gridcollect.example.com"),
        (" , localhost", "localhost"),
        (".example.com", "example.com"),
        ("*", "localhost"),
        ("", "localhost"),
    ],
)
def test_the_healthcheck_sends_a_host_that_allowed_hosts_accepts(allowed_hosts, host):
    assert load_healthcheck().allowed_host(allowed_hosts) == host


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def production_gunicorn(tmp_path):
    """gunicorn serving config.wsgi with production settings and only a public name allowed."""
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis://"):
        pytest.skip("production settings need a real broker (make test starts one)")
    port = free_port()
    env = {
        "CELERY_BROKER_URL": broker,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": get_random_secret_key(),
        "ALLOWED_HOSTS": "gridcollect.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        # SECURE_SSL_REDIRECT keeps its production default (on): /healthz must still answer over HTTP.
    }
    base = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=base | env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    pytest.fail(f"gunicorn did not start: {process.communicate()[1][-2000:]}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/healthz", env
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_web_healthcheck_passes_against_production_settings(production_gunicorn):
    url, env = production_gunicorn
    check = [sys.executable, "docker/healthcheck.py", url]
    healthy = run(check, {"ALLOWED_HOSTS": env["ALLOWED_HOSTS"]}, timeout=20)
    assert healthy.returncode == 0, healthy.stderr
    # The same check with a host the server does not allow is refused: the Host header matters.
    refused = run(check, {"ALLOWED_HOSTS": "elsewhere.example.org"}, timeout=20)
    assert refused.returncode == 1 and "HTTP 400" in refused.stderr
