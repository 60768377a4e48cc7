"""Make sure the real services the tests use are up; run by `make test` before pytest."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

PG_HOST, PG_PORT = "127.0.0.1", 5432


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
    for _ in range(60):
        if _listening(PG_HOST, PG_PORT):
            return
        time.sleep(0.5)
    sys.exit("PostgreSQL did not come up on 127.0.0.1:5432")


if __name__ == "__main__":
    ensure_postgres()
