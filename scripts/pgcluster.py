#!/usr/bin/env python3
"""A private, throwaway PostgreSQL cluster for the tests, on a spare loopback port.

    scripts/pgcluster.py start DIR   # initdb + start; prints the SQLAlchemy URL of role `nexus`
    scripts/pgcluster.py stop DIR

Installs Debian's PostgreSQL when no server binaries are found (needs root, as CI has).
The tests connect as `nexus`, an ordinary role with CREATEDB that owns the databases it makes.
It is also in `pg_signal_backend`: `DROP DATABASE ... WITH (FORCE)` ends every backend on
the database, and an autovacuum worker busy there belongs to no role `nexus` is a member of.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path


def pg_bin() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        if os.geteuid() != 0:
            sys.exit("PostgreSQL is missing and this is not root: apt-get install postgresql")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"],
            check=True,
            env=env,
        )
        return pg_bin()
    return Path(found[-1]).parent


def as_owner(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def spare_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(data: Path) -> None:
    binaries = pg_bin()
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    quiet = {"stdout": subprocess.DEVNULL}
    subprocess.run(
        as_owner(
            [
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ]
        ),
        check=True,
        **quiet,
    )
    port = spare_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off -c max_connections=300"
    )
    subprocess.run(
        as_owner(
            [
                str(binaries / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(data / "log"),
                "-w",
                "-o",
                options,
                "start",
            ]
        ),
        check=True,
        **quiet,
    )
    subprocess.run(
        as_owner(
            [
                str(binaries / "psql"),
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-c",
                "CREATE ROLE nexus LOGIN CREATEDB IN ROLE pg_signal_backend",
            ]
        ),
        check=True,
        **quiet,
    )
    (data.parent / f"{data.name}.port").write_text(str(port))
    print(f"postgresql+asyncpg://nexus@127.0.0.1:{port}/postgres")


def stop(data: Path) -> None:
    if not (data / "PG_VERSION").exists():
        return
    subprocess.run(
        as_owner([str(pg_bin() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
    )
    shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit(__doc__)
    (start if sys.argv[1] == "start" else stop)(Path(sys.argv[2]).resolve())
