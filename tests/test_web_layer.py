"""What keeps a page cheap to serve (docs/benchmarks.md, "The web layer")."""

from __future__ import annotations

import inspect
from pathlib import Path

from quart import Quart

from app import create_app

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_every_template_context_processor_runs_on_the_event_loop() -> None:
    """Quart sends a synchronous processor to a thread on every render."""
    warble: Quart = create_app(
        {"SECRET_KEY": "web-layer", "DATABASE_URL": "sqlite+aiosqlite:///:memory:"}
    )
    processors = [p for ps in warble.template_context_processors.values() for p in ps]
    assert processors, "Quart's own processor (g, request, session) stays"
    for processor in processors:
        assert inspect.iscoroutinefunction(processor), processor


def test_no_template_reads_what_the_dropped_processors_gave() -> None:
    """Quart-Auth's `current_user` is not in the templates' context: they read g.user."""
    for template in TEMPLATES.rglob("*.html"):
        assert "current_user" not in template.read_text(), template
