"""Shared by the benchmarks: viewer sampling, percentiles, and result files."""

from __future__ import annotations

import json
import random
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

RESULTS = Path(__file__).resolve().parent / "results"
# Viewer classes of issue 5, by followee count.
TYPICAL = (90, 110)
HEAVY = (1_800, 2_500)
SPARSE_MAX = 10


KINDS = ("typical", "heavy", "sparse", "shunning")


@dataclass(frozen=True)
class Viewer:
    kind: str  # typical, heavy, sparse, or shunning: typical, and blocks or mutes 50 accounts
    user_id: int
    followees: int


async def sample_viewers(
    engine: AsyncEngine, per_class: int, seed: int, kinds: tuple[str, ...] = KINDS
) -> list[Viewer]:
    """per_class viewers of each kind, the same ones for a given dataset and seed.

    A small dataset may have nobody in a band: then the nearest followee counts stand in
    (reports print the real counts). "shunning" viewers are those with the typical band's
    followee counts among the accounts that block or mute (the dataset's 1%); a dataset
    without any has none.
    """
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT follower_id, count(*) FROM follows GROUP BY follower_id ORDER BY 1")
        )
        counts = [(int(user), int(n)) for user, n in rows]
        shunners = set(
            await connection.scalars(
                text("SELECT blocker_id FROM blocks UNION SELECT muter_id FROM mutes")
            )
        )
    rng = random.Random(seed)
    viewers: list[Viewer] = []
    bands = {
        "typical": (TYPICAL, counts),
        "heavy": (HEAVY, counts),
        "sparse": ((1, SPARSE_MAX), counts),
        "shunning": (TYPICAL, [c for c in counts if c[0] in shunners]),
    }
    for kind in kinds:
        (low, high), pool = bands[kind]
        band = [c for c in pool if low <= c[1] <= high]
        if len(band) < per_class:
            middle = (low + high) / 2
            band = sorted(pool, key=lambda c, m=middle: (abs(c[1] - m), c[0]))[:per_class]
        for user, n in rng.sample(band, min(per_class, len(band))):
            viewers.append(Viewer(kind, user, n))
    return viewers


def percentile(samples: list[float], q: float) -> float:
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=1000, method="inclusive")[round(q * 1000) - 1]


def summary(samples: list[float]) -> dict[str, float]:
    """Median and p99 in milliseconds of samples in seconds."""
    return {
        "n": len(samples),
        "median_ms": statistics.median(samples) * 1e3,
        "p99_ms": percentile(samples, 0.99) * 1e3,
        "mean_ms": statistics.fmean(samples) * 1e3,
    }


def save(name: str, data: Any) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path
