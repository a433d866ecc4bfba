"""Password hashing."""

from __future__ import annotations

from app.passwords import hash_password, needs_rehash, verify_password


async def test_right_password_verifies_and_wrong_does_not():
    hashed = await hash_password("correct horse")
    assert await verify_password(hashed, "correct horse")
    assert not await verify_password(hashed, "correct horsE")
    assert not await verify_password(hashed, "")


async def test_hash_is_argon2id_salted_and_never_contains_the_password():
    first, second = await hash_password("hunter22hunter"), await hash_password("hunter22hunter")
    assert first.startswith("$argon2id$")
    assert "hunter22hunter" not in first
    assert first != second  # a fresh salt each time
    assert not needs_rehash(first)


async def test_missing_hash_still_costs_a_verification_and_fails():
    assert not await verify_password(None, "anything")


async def test_garbage_hash_does_not_verify():
    assert not await verify_password("not-a-hash", "anything")
