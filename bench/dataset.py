"""The benchmark dataset as reproducible row streams: skewed authors, Pareto follow counts."""

from __future__ import annotations

import itertools
import random
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# Every timestamp is fixed relative to this instant: the same seed gives the same rows.
END = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=365)
START = END - SPAN
CHUNK = 50_000
COMMENT_BODIES = 4_096

# Follow counts: Pareto(alpha) above XM averages XM * alpha / (alpha - 1) = 96, and the largest
# of 100,000 draws lands near XM * 100_000 ** (1 / alpha) (about 4,300).
FOLLOW_ALPHA = 2.7
FOLLOW_XM = 60.5
# Author weights (how much one posts and how likely one is followed): Pareto(1.85) gives a
# followed account ~8x the posts of an average one, so ~100 followees read ~40k posts.
AUTHOR_ALPHA = 1.85
# Likes per post: Pareto(LIKE_ALPHA) - 1, capped; most posts have none or one, a few dozens
# (about one per post on average).
LIKE_ALPHA = 1.7
LIKE_CAP = 500
# A "sparse" viewer: a new account following this many of the quietest authors.
SPARSE_FOLLOWS = 5
# Blocks and mutes: one account in BLOCKERS_ONE_IN blocks (or, as often, mutes) SHUNNED
# accounts, drawn by weight as follows are (the accounts people see, and so shun). A block
# ends the follows between the two, as Warble's does; a mute leaves them.
BLOCKERS_ONE_IN = 100
SHUNNED = 50

# Text: words drawn by Zipf's law (the word of rank r has weight 1 / r) from a vocabulary of
# VOCABULARY words, the most common first: real English function words, then made-up words
# (a few with accents). "the" is in ~85% of posts, the tenth word in ~17%, a word of rank
# 20,000 in a few hundred at 5 million posts: common and rare words both exist. One post in
# TAGGED_ONE_IN carries one or two #tags, drawn by Zipf's law from TAGS tag names.
_COMMON = """
the of and to a in is it you that he was for on are with as I his they be at one have this
from or had by hot word but what some we can out other were all there when up use your how
said an each she which do their time if will way about many then them write would like so
these her long make thing see him two has look more day could go come did number sound no
most people my over know water than call first who may down side been now find coffee garden
rain train music bread cat dog river moon city book code bug deploy night morning weekend
lunch walk bike tea café
"""
COMMON_WORDS = _COMMON.split()
VOCABULARY = 30_000
TAGS = 2_000
TAGGED_ONE_IN = 10
BODY_POOL = 65_536  # distinct bodies; posts draw from them (the first 4,096 serve comments)
# Made-up words are two or three syllables: an onset, a vowel, maybe a coda (blanks: none).
_ONSETS = "b c d f g h j k l m n p r s t v w z br ch dr fl gr kl pl sh st tr th"
_VOWELS = "a e i o u a e i o u a e i o u ai ea ou y é"
_CODAS = "- - - - n r s l t nd st m"


def vocabulary(size: int, seed: int) -> list[str]:
    """COMMON_WORDS, then made-up words of two or three syllables, each once."""
    rng = random.Random(f"{seed}:vocabulary")
    onsets, vowels = _ONSETS.split(), _VOWELS.split()
    codas = [coda.strip("-") for coda in _CODAS.split()]
    words = list(COMMON_WORDS)
    seen = {w.lower() for w in words}
    while len(words) < size:
        syllables = rng.randint(2, 3)
        word = "".join(
            rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(syllables)
        )
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def zipf_weights(size: int) -> list[float]:
    """Cumulative weights of ranks 1..size under Zipf's law (exponent 1)."""
    return list(itertools.accumulate(1 / rank for rank in range(1, size + 1)))


class Writer:
    """Post bodies: Zipf-distributed words, a capital letter, a full stop, sometimes #tags."""

    def __init__(self, seed: int) -> None:
        self.words = vocabulary(VOCABULARY, seed)
        self.cum = zipf_weights(VOCABULARY)
        self.tags = self.words[200 : 200 + TAGS]  # tags are words, but not the commonest
        self.tag_cum = zipf_weights(TAGS)

    def body(self, rng: random.Random) -> str:
        words = rng.choices(self.words, cum_weights=self.cum, k=rng.randint(3, 40))
        text = " ".join(words)[:280].capitalize() + "."
        if rng.randrange(TAGGED_ONE_IN) == 0:
            for tag in rng.choices(self.tags, cum_weights=self.tag_cum, k=rng.randint(1, 2)):
                text += " #" + (tag.capitalize() if rng.random() < 0.3 else tag)
        return text


@dataclass(frozen=True)
class Spec:
    users: int = 10_000
    posts: int = 500_000
    comments: int | None = None  # default: one per ten posts
    seed: int = 5

    @property
    def sparse_users(self) -> int:
        return max(3, self.users // 2_000)

    @property
    def total_users(self) -> int:
        return self.users + self.sparse_users

    @property
    def comment_count(self) -> int:
        return self.posts // 10 if self.comments is None else self.comments

    @property
    def follow_cap(self) -> int:
        return max(1, min(self.users - 1, self.users // 4))


def stamp(at: datetime) -> str:
    """SQLite's storage format for app.db.UTCDateTime: naive UTC with microseconds."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class Dataset:
    """Rows for users, follows, posts and comments; each stream is a pure function of the spec."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        rng = random.Random(spec.seed)
        self.weights = [rng.paretovariate(AUTHOR_ALPHA) for _ in range(spec.users)]
        self.cum = list(itertools.accumulate(self.weights))
        writer = Writer(spec.seed)
        self.bodies = [writer.body(rng) for _ in range(BODY_POOL)]
        # The quietest authors, for the sparse viewers.
        self.quiet = sorted(range(spec.users), key=self.weights.__getitem__)[:SPARSE_FOLLOWS]
        self._post_at = array("d")
        self.blocked, self.muted = self._shunned()

    def _shunned(self) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
        """(blocker -> the accounts they block, muter -> the accounts they mute), 0-based;
        each shunner does one or the other."""
        rng = self._rng("blocks")
        users = range(self.spec.users)
        count = max(1, self.spec.users // BLOCKERS_ONE_IN)
        blocked: dict[int, list[int]] = {}
        muted: dict[int, list[int]] = {}
        for shunner in sorted(rng.sample(users, min(count, self.spec.users))):
            many = min(SHUNNED, self.spec.follow_cap)
            targets = sorted(self._followees(rng, shunner, many, users))
            (blocked if rng.random() < 0.5 else muted)[shunner] = targets
        return blocked, muted

    def blocked_between(self, a: int, b: int) -> bool:
        """0-based: has either blocked the other?"""
        return b in self.blocked.get(a, ()) or a in self.blocked.get(b, ())

    def _rng(self, stream: str) -> random.Random:
        return random.Random(f"{self.spec.seed}:{stream}")

    # -- users -----------------------------------------------------------------------------

    def users(self) -> Iterator[list[tuple[int, str, str, datetime, datetime | None]]]:
        """(id, username, email, created_at, last_seen_at) in chunks; ids start at 1."""
        rng = self._rng("users")
        chunk = []
        for index in range(self.spec.total_users):
            user_id = index + 1
            sparse = index >= self.spec.users
            created = (
                END - timedelta(days=1) if sparse else START - timedelta(days=rng.random() * 30)
            )
            chunk.append((user_id, f"user{user_id}", f"user{user_id}@example.com", created, None))
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    # -- follows ---------------------------------------------------------------------------

    def follow_count(self, rng: random.Random) -> int:
        count = int(rng.paretovariate(FOLLOW_ALPHA) * FOLLOW_XM)
        return min(count, self.spec.follow_cap)

    def follows(self) -> Iterator[list[tuple[int, int, datetime]]]:
        """(follower_id, followed_id, created_at), in primary-key order, in chunks."""
        rng = self._rng("follows")
        users = range(self.spec.users)
        chunk: list[tuple[int, int, datetime]] = []
        for follower in range(self.spec.total_users):
            if follower < self.spec.users:
                targets = self._followees(rng, follower, self.follow_count(rng), users)
            else:
                targets = list(self.quiet)
            for target in sorted(targets):
                at = START + SPAN * rng.random()
                if not self.blocked_between(follower, target):  # drawn all the same: the
                    chunk.append((follower + 1, target + 1, at))  # other rows stay as they were
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _followees(self, rng: random.Random, follower: int, count: int, users: range) -> list[int]:
        """count distinct accounts, drawn in proportion to their weight (popular and prolific)."""
        chosen: dict[int, None] = {}
        while len(chosen) < count:
            need = count - len(chosen)
            for target in rng.choices(users, cum_weights=self.cum, k=need + need // 4 + 4):
                if target != follower:
                    chosen[target] = None
        return list(chosen)[:count]

    # -- blocks and mutes --------------------------------------------------------------------

    def _shunning(self, which: dict[int, list[int]]) -> Iterator[list[tuple[int, int, datetime]]]:
        rng = self._rng("shunned at")
        rows = [
            (who + 1, target + 1, START + SPAN * rng.random())
            for who, targets in sorted(which.items())
            for target in targets
        ]
        for first in range(0, len(rows), CHUNK):
            yield rows[first : first + CHUNK]

    def blocks(self) -> Iterator[list[tuple[int, int, datetime]]]:
        """(blocker_id, blocked_id, created_at), in primary-key order, in chunks."""
        return self._shunning(self.blocked)

    def mutes(self) -> Iterator[list[tuple[int, int, datetime]]]:
        """(muter_id, muted_id, created_at), in primary-key order, in chunks."""
        return self._shunning(self.muted)

    # -- posts -----------------------------------------------------------------------------

    def posts(self) -> Iterator[list[tuple[int, int, str, datetime]]]:
        """(id, author_id, body, created_at): ids ascend with time, authors drawn by weight."""
        rng = self._rng("posts")
        total = self.spec.posts
        users = range(1, self.spec.users + 1)
        self._post_at = array("d")
        step = SPAN.total_seconds() / max(1, total)
        start = START.timestamp()
        post_id = 0
        for first in range(0, total, CHUNK):
            size = min(CHUNK, total - first)
            # Stratified: each chunk covers its own slice of the year, sorted within.
            base = start + first * step
            times = sorted(base + rng.random() * size * step for _ in range(size))
            authors = rng.choices(users, cum_weights=self.cum, k=size)
            bodies = rng.choices(self.bodies, k=size)
            chunk = []
            for at, author, body in zip(times, authors, bodies, strict=True):
                post_id += 1
                self._post_at.append(at)
                chunk.append((post_id, author, body, datetime.fromtimestamp(at, UTC)))
            yield chunk

    # -- comments --------------------------------------------------------------------------

    def comments(self) -> Iterator[list[tuple[int, int, int, str, datetime]]]:
        """(id, post_id, author_id, body, created_at); call after posts() has been consumed."""
        rng = self._rng("comments")
        total, posts = self.spec.comment_count, self.spec.posts
        if posts == 0:
            return
        if len(self._post_at) != posts:
            for _ in self.posts():
                pass
        end = END.timestamp()
        comment_id = 0
        for first in range(0, total, CHUNK):
            size = min(CHUNK, total - first)
            chunk = []
            for _ in range(size):
                comment_id += 1
                post_id = rng.randrange(posts) + 1
                author = rng.randrange(self.spec.users) + 1
                at = min(end, self._post_at[post_id - 1] + rng.expovariate(1 / 3600))
                body = self.bodies[rng.randrange(COMMENT_BODIES)]
                chunk.append((comment_id, post_id, author, body, datetime.fromtimestamp(at, UTC)))
            yield chunk

    # -- likes -----------------------------------------------------------------------------

    def likes(self) -> Iterator[list[tuple[int, int, datetime]]]:
        """(post_id, user_id, created_at) in primary-key order: heavy-tailed counts per post,
        by accounts drawn uniformly; call after posts() has been consumed."""
        rng = self._rng("likes")
        posts, users = self.spec.posts, self.spec.users
        if len(self._post_at) != posts:
            for _ in self.posts():
                pass
        end = END.timestamp()
        cap = min(LIKE_CAP, users)
        chunk: list[tuple[int, int, datetime]] = []
        for index in range(posts):
            count = min(cap, int(rng.paretovariate(LIKE_ALPHA)) - 1)
            if count == 0:
                continue
            at = self._post_at[index]
            for user in sorted(rng.sample(range(users), count)):
                liked = min(end, at + rng.expovariate(1 / 7200))
                chunk.append((index + 1, user + 1, datetime.fromtimestamp(liked, UTC)))
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
