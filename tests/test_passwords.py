"""Password hashing: argon2id, salted, at the cost the configuration names (strong by default)."""

from __future__ import annotations

import pytest
from argon2 import Parameters, Type, extract_parameters
from argon2.exceptions import HashingError

from app import config, create_app
from app.passwords import hash_password, needs_rehash, verify_password

ARGON2_SETTINGS = ("ARGON2_TIME_COST", "ARGON2_MEMORY_COST", "ARGON2_PARALLELISM")


@pytest.fixture
async def in_app(app):
    """Inside the test app, as a view would be: its (cheap) parameters apply."""
    async with app.app.app_context():
        yield app.app.extensions["passwords"]


async def test_right_password_verifies_and_wrong_does_not(in_app):
    hashed = await hash_password("correct horse")
    assert await verify_password(hashed, "correct horse")
    assert not await verify_password(hashed, "correct horsE")
    assert not await verify_password(hashed, "")


async def test_hash_is_argon2id_salted_at_the_configured_cost_without_the_password(in_app):
    first, second = await hash_password("hunter22hunter"), await hash_password("hunter22hunter")
    assert first.startswith("$argon2id$v=19$m=8,t=1,p=1$")  # tests.hashing.CHEAP_ARGON2
    assert "hunter22hunter" not in first
    assert first != second  # a fresh salt each time
    assert not needs_rehash(first)


class CountingHasher:
    """The app's hasher, noting each hash it verifies."""

    def __init__(self, hasher) -> None:
        self.hasher = hasher
        self.verified: list[str] = []

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append(password_hash)
        return self.hasher.verify(password_hash, password)


async def test_missing_hash_costs_one_verification_at_the_same_cost_and_fails(in_app, monkeypatch):
    assert extract_parameters(in_app.dummy_hash) == extract_parameters(await hash_password("x"))
    counting = CountingHasher(in_app.hasher)
    monkeypatch.setattr(in_app, "hasher", counting)
    assert not await verify_password(None, "anything")
    assert counting.verified == [in_app.dummy_hash]


async def test_garbage_hash_does_not_verify(in_app):
    assert not await verify_password("not-a-hash", "anything")


def test_production_hashes_with_the_strong_argon2_defaults(monkeypatch, tmp_path):
    for name in ARGON2_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WARBLE_INSTANCE", str(tmp_path))
    warble = create_app()  # no overrides: the app hypercorn serves
    passwords = warble.extensions["passwords"]
    strong = Parameters(
        type=Type.ID,
        version=19,
        salt_len=16,
        hash_len=32,
        time_cost=3,
        memory_cost=64 * 1024,  # KiB
        parallelism=4,
    )
    assert extract_parameters(passwords.dummy_hash) == strong
    assert (passwords.hasher.time_cost, passwords.hasher.memory_cost) == (3, 64 * 1024)
    assert passwords.hasher.parallelism == 4


def test_argon2_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("ARGON2_TIME_COST", "2")
    monkeypatch.setenv("ARGON2_MEMORY_COST", "19456")
    monkeypatch.setenv("ARGON2_PARALLELISM", "1")
    settings = config.from_environment()
    assert [settings[name] for name in ARGON2_SETTINGS] == [2, 19456, 1]


async def test_parameters_argon2_refuses_stop_the_app_at_start(make_app):
    with pytest.raises(HashingError, match="Memory cost is too small"):
        await make_app(ARGON2_MEMORY_COST=4)
