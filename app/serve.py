"""`warble serve`: hypercorn's workers, each accepting on a listening socket of its own.

hypercorn's own multi-worker mode binds one socket in the parent and every worker accepts on
it. An asyncio worker accepts every connection that is waiting when it wakes, so a burst of
keep-alive connections (a browser's six, a proxy's pool, a benchmark's eight) lands on the
worker that woke first while the others idle: `bench/pages.py` saw every request of every
multi-connection run served by one of two workers. Here each worker binds its own socket with
SO_REUSEPORT (hypercorn sets it whenever there are several workers), and the kernel spreads new
connections over the sockets by their addresses and ports (docs/benchmarks.md, "Workers").

Everything else is hypercorn's: the settings of hypercorn.toml, its worker function, its
graceful shutdown on SIGTERM or SIGINT. As with hypercorn, a worker that dies stops the server
(systemd or another supervisor restarts it). Unix sockets, inherited descriptors and a single
worker are served by hypercorn itself: there is nothing to spread there.
"""

from __future__ import annotations

import multiprocessing
import signal
from multiprocessing.connection import wait
from typing import Any

from hypercorn.config import Config
from hypercorn.run import run as hypercorn_run

APPLICATION = "app:create_app()"


def load_config(
    path: str, binds: list[str], workers: int | None, application: str = APPLICATION
) -> Config:
    config = Config.from_toml(path)
    if binds:
        config.bind = binds
    if workers is not None:
        config.workers = workers
    config.application_path = application
    return config


def _worker_function(config: Config) -> Any:
    if config.worker_class == "uvloop":
        from hypercorn.asyncio.run import uvloop_worker

        return uvloop_worker
    if config.worker_class != "asyncio":
        raise ValueError(f"warble serve runs asyncio or uvloop workers, not {config.worker_class}")
    from hypercorn.asyncio.run import asyncio_worker

    return asyncio_worker


def own_sockets(config: Config) -> bool:
    """Can each worker listen on its own socket? Only TCP addresses can be shared that way."""
    tcp = all(not bind.startswith(("unix:", "fd://")) for bind in config.bind)
    return config.workers > 1 and tcp and not config.quic_bind


def serve(config: Config) -> int:
    """Run the workers until SIGTERM or SIGINT, or until one of them exits; its exit code."""
    if not own_sockets(config):
        return hypercorn_run(config)
    worker = _worker_function(config)
    context = multiprocessing.get_context("spawn")
    shutdown = context.Event()
    # Workers inherit an ignored SIGINT (a Ctrl+C reaches the whole process group): the
    # parent alone decides, and tells them all through `shutdown`, as hypercorn does.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    processes = []
    for _ in range(config.workers):
        # sockets=None: the worker binds its own (hypercorn's create_sockets, SO_REUSEPORT).
        process = context.Process(
            target=worker, kwargs={"config": config, "shutdown_event": shutdown, "sockets": None}
        )
        process.start()
        processes.append(process)
    for name in ("SIGINT", "SIGTERM"):
        signal.signal(getattr(signal, name), lambda *_: shutdown.set())

    wait([process.sentinel for process in processes])  # a signal, or a worker that exited
    shutdown.set()
    for process in processes:
        process.join(config.graceful_timeout + 5)
        if process.exitcode is None:
            process.terminate()
            process.join()
    return next((p.exitcode for p in processes if p.exitcode), 0)
