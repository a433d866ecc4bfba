"""`warble serve` (make run): hypercorn's workers, each accepting on its own socket."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.server import free_port
from tests.hashing import cheap_argon2_environ
from tests.test_faults import ROOT, answers, wait_until

RUNNING = re.compile(r"\[(\d+)\] \[INFO\] Running on")
SERVED = re.compile(r"\[(\d+)\] \[INFO\] \S+ \"GET /healthz")


@pytest.fixture
def server(tmp_path: Path):
    """`warble serve` with the shipped hypercorn.toml and two workers, on SQLite."""
    port = free_port()
    env = {
        **os.environ,
        **cheap_argon2_environ(),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'warble.db'}",
        "SECRET_KEY": "serve test",
        "WARBLE_INSTANCE": str(tmp_path),
        "SECURE_COOKIES": "false",
    }
    cli = [sys.executable, "-m", "app.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, cwd=ROOT, capture_output=True)
    log = tmp_path / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*cli, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: len(RUNNING.findall(log.read_text())) == 2, 60, "two workers up")
        wait_until(lambda: answers(port), 10, "warble serve answering")
        yield process, port, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in map(int, RUNNING.findall(log.read_text())):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_connections_opened_at_once_are_served_by_both_workers(server):
    _process, port, log = server
    # hypercorn's shared socket gave every one of 8 keep-alive connections opened at once to
    # one worker (bench/pages.py). With a socket per worker the kernel spreads them: all 32
    # on one of two sockets would happen once in 2^31 runs.
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(32)]
    for connection in connections:
        connection.connect()
    for _ in range(2):
        for connection in connections:
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            assert response.status == 200
            response.read()
    for connection in connections:
        connection.close()
    wait_until(lambda: len(SERVED.findall(log.read_text())) >= 64, 10, "64 access log lines")
    workers = set(RUNNING.findall(log.read_text()))
    assert set(SERVED.findall(log.read_text())) == workers


def test_sigterm_stops_every_worker_and_exits_0(server):
    process, port, log = server
    workers = [int(pid) for pid in RUNNING.findall(log.read_text())]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert not answers(port)
    for pid in workers:
        wait_until(lambda pid=pid: not Path(f"/proc/{pid}").exists(), 10, f"worker {pid} gone")


def test_a_worker_that_dies_stops_the_server_for_its_supervisor_to_restart(server):
    process, port, log = server
    worker = int(RUNNING.findall(log.read_text())[0])
    os.kill(worker, signal.SIGKILL)
    assert process.wait(timeout=20) != 0
    wait_until(lambda: not answers(port), 10, "the port closed")
