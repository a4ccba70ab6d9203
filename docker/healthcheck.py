"""Container health check for the web service: GET the health URL, exit 0 only on HTTP 200.

    python docker/healthcheck.py http://127.0.0.1:8000/healthz

Django answers a request for a host outside ALLOWED_HOSTS with 400 before any view runs, so the
check sends a Host header that ALLOWED_HOSTS accepts (its first entry) instead of the container's
own address; a deployment that lists only its public name then still passes its own check.
Only the standard library: the image has no curl.
"""

import os
import sys
import urllib.error
import urllib.request


def allowed_host(allowed_hosts: str) -> str:
    """A host name that Django's ALLOWED_HOSTS (comma-separated, as the settings read it) accepts."""
    for entry in allowed_hosts.split(","):
        host = entry.strip()
        if host == "*":
            return "localhost"
        if host.startswith("."):
            return host[1:]  # ".example.com" matches "example.com" and its subdomains
        if host:
            return host
    return "localhost"  # Django's own default when ALLOWED_HOSTS is empty and DEBUG is on


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else "http://127.0.0.1:8000/healthz"
    host = allowed_host(os.environ.get("ALLOWED_HOSTS", ""))
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status = response.status
    except urllib.error.HTTPError as exc:  # 503 (a part is down), 400 (host refused), ...
        print(f"{url} (Host: {host}): HTTP {exc.code} {exc.read(500).decode(errors='replace')}", file=sys.stderr)
        return 1
    except OSError as exc:  # refused, timed out: gunicorn is not answering
        print(f"{url} (Host: {host}): {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"{url} (Host: {host}): HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
