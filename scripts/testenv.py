#!/usr/bin/env python3
"""Run a command with a throwaway PostgreSQL and Redis, then tear them down.

    python scripts/testenv.py [--require-services] -- pytest ...

Where DATABASE_URL / CELERY_BROKER_URL are already set, they are used as they are. Otherwise
the installed `postgres` and `redis-server` binaries are started on free loopback ports in a
temporary folder (fsync off: the data is thrown away). Only when a binary is missing does the
run fall back to SQLite / no broker, with a loud warning; --require-services (CI) turns that
fallback into a failure, so CI can never pass on SQLite alone.
"""

import argparse
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def banner(text: str) -> None:
    line = "!" * 78
    print(f"\n{line}\n{text}\n{line}\n", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def wait_for_port(port: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class Postgres:
    def __init__(self, workdir: str):
        self.initdb = find_binary("initdb")
        self.pg_ctl = find_binary("pg_ctl")
        self.datadir = os.path.join(workdir, "pgdata")
        self.port = free_port()
        self.as_user: list[str] = []

    def available(self) -> bool:
        return bool(self.initdb and self.pg_ctl)

    def _run(self, args: list[str]) -> None:
        subprocess.run(self.as_user + args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> str:
        # PostgreSQL refuses to run as root; run it as an unprivileged account instead.
        if os.geteuid() == 0:
            account = "postgres"
            try:
                entry = pwd.getpwnam(account)
            except KeyError:
                account, entry = "nobody", pwd.getpwnam("nobody")
            os.makedirs(self.datadir)
            for path in (os.path.dirname(self.datadir), self.datadir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            self.as_user = ["runuser", "-u", account, "--"]
        self._run([self.initdb, "-D", self.datadir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
        options = (
            f"-p {self.port} -k {os.path.dirname(self.datadir)} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run([self.pg_ctl, "-D", self.datadir, "-o", options, "-l", self.datadir + ".log", "-w", "start"])
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run(
            self.as_user + [self.pg_ctl, "-D", self.datadir, "-m", "immediate", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


class Redis:
    def __init__(self, workdir: str):
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def available(self) -> bool:
        return bool(self.binary)

    def start(self) -> str:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_for_port(self.port):
            raise RuntimeError("redis-server did not start")
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--require-services", action="store_true", help="fail instead of falling back to SQLite")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")

    env = dict(os.environ)
    workdir = tempfile.mkdtemp(prefix="gridcollect-test-")
    started: list = []
    try:
        if not env.get("DATABASE_URL"):
            postgres = Postgres(workdir)
            if postgres.available():
                env["DATABASE_URL"] = postgres.start()
                started.append(postgres)
            elif args.require_services:
                banner("PostgreSQL binaries (initdb, pg_ctl) not found and --require-services is set: failing.")
                return 2
            else:
                banner("WARNING: PostgreSQL not found. Tests run on SQLite; PostgreSQL-only paths are NOT tested.")
        if not env.get("CELERY_BROKER_URL"):
            redis = Redis(workdir)
            if redis.available():
                env["CELERY_BROKER_URL"] = redis.start()
                started.append(redis)
            elif args.require_services:
                banner("redis-server not found and --require-services is set: failing.")
                return 2
            else:
                banner("WARNING: redis-server not found. The real-worker tests are skipped.")
        if args.require_services:
            env["GRIDCOLLECT_REQUIRE_SERVICES"] = "1"
        print(
            f"testenv: database={env.get('DATABASE_URL', 'sqlite')} broker={env.get('CELERY_BROKER_URL', 'none')}",
            file=sys.stderr,
            flush=True,
        )
        process = subprocess.Popen(command, env=env)
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            return process.wait()
    finally:
        for service in reversed(started):
            service.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
