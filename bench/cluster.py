"""A private PostgreSQL cluster on a free loopback port: the soak restarts it mid-run, which it
must never do to a cluster that other work shares. Made in a temporary folder, deleted after."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.browser.server import free_port


def binaries() -> Path | None:
    """The newest PostgreSQL's bin folder (Debian keeps them out of PATH), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _version(path: str) -> int:
    return int(Path(path).parent.parent.name) if Path(path).parent.parent.name.isdigit() else 0


class Cluster:
    """initdb, start, restart, stop. As root, PostgreSQL runs as the `postgres` user (it
    refuses to run as root), which then owns the folder."""

    def __init__(self) -> None:
        bin_dir = binaries()
        if bin_dir is None:
            raise SystemExit("soak: no PostgreSQL binaries (Debian: apt-get install postgresql)")
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="warble-soak-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/warble_soak"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.folder, "postgres", "postgres")

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        """Its output goes to a file: a pipe would be inherited by the server pg_ctl starts,
        and reading it to its end would wait for the server to stop."""
        with (self.folder / "tools.log").open("ab") as out:
            subprocess.run(
                [*self.as_user, str(self.bin / tool), *args],
                check=True,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )

    def start(self) -> None:
        self._run(
            "initdb",
            *("-D", str(self.data), "-U", "postgres", "--auth=trust"),
            *("-E", "UTF8", "--locale=C.UTF-8", "--no-sync"),
        )
        # Loopback only; its Unix socket in its own folder, not the shared /var/run one.
        self._pg_ctl(
            "start", "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        )

    def restart(self) -> None:
        """Fast shutdown (open connections are cut, as a crash or an upgrade would), start
        (with the options it was started with: pg_ctl keeps them in postmaster.opts)."""
        self._pg_ctl("restart", "-m", "fast")

    def _pg_ctl(self, action: str, *args: str) -> None:
        log = str(self.folder / "postgres.log")
        self._run("pg_ctl", action, "-D", str(self.data), "-l", log, "-w", "-t", "60", *args)

    def wait_ready(self, deadline: float) -> bool:
        """Does it accept connections before time.monotonic() reaches deadline?"""
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                check=False,
                timeout=10,
            )
            if ready.returncode == 0:
                return True
            time.sleep(0.1)
        return False

    def delete(self) -> None:
        """Stop it (if it runs) and remove its folder."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError):
                self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
