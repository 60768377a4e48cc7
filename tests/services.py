"""Make sure the real services the tests use are up; run by `make test` before pytest."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

from hooks.testing.waiting import NotInTime, eventually_sync

PG_HOST, PG_PORT = "127.0.0.1", 5432
CHROMIUM = "/usr/bin/chromium"  # the dashboard's browser test drives Debian's Chromium


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def ensure_postgres() -> None:
    """Start the machine's PostgreSQL cluster if it is down (as DESIGN.md describes)."""
    if _listening(PG_HOST, PG_PORT):
        return
    if not shutil.which("pg_ctlcluster") or not os.path.isdir("/etc/postgresql"):
        sys.exit("PostgreSQL is not running on 127.0.0.1:5432 and pg_ctlcluster is not installed")
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    print(f"starting PostgreSQL {version} ...", flush=True)
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False
    )
    try:
        eventually_sync(lambda: _listening(PG_HOST, PG_PORT), within_s=30, every_s=0.5)
    except NotInTime:
        sys.exit("PostgreSQL did not come up on 127.0.0.1:5432")


def ensure_chromium() -> None:
    """Install Debian's Chromium and its driver for the browser tests when they are missing."""
    if os.path.exists(CHROMIUM):
        return
    if os.geteuid() != 0:
        sys.exit(f"{CHROMIUM} is missing: as root, apt-get install chromium chromium-driver")
    print("installing chromium and chromium-driver ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"], check=True, env=env
    )


if __name__ == "__main__":
    ensure_postgres()
    ensure_chromium()
