"""Security primitives: keys, encryption, keyed hashes, random tokens, password hashing."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# OWASP's Argon2id recommendation: m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY_HASH = _hasher.hash("nexus-dummy-password-for-timing")


@lru_cache(maxsize=256)
def _derive(key: str, purpose: str) -> bytes:
    """The key for `purpose` (the same every time: derived once per process)."""
    return hmac.new(key.encode(), purpose.encode(), hashlib.sha256).digest()


class Keyring:
    """Derives per-purpose keys from `NEXUS_SECRET_KEYS` (newest first, older ones still read)."""

    def __init__(self, secret_keys: list[str]) -> None:
        if not secret_keys:
            raise ValueError("at least one secret key is required")
        self.secret_keys = list(secret_keys)
        self._fernet = MultiFernet(
            [Fernet(base64.urlsafe_b64encode(_derive(k, "encryption"))) for k in secret_keys]
        )

    def signing_key(self, purpose: str) -> bytes:
        return _derive(self.secret_keys[0], f"sign:{purpose}")

    def verification_keys(self, purpose: str) -> list[bytes]:
        return [_derive(k, f"sign:{purpose}") for k in self.secret_keys]

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def decrypt(self, token: bytes) -> bytes:
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise ValueError("cannot decrypt with any configured secret key") from None

    def lookup_hash(self, token: str) -> str:
        """HMAC-SHA256 of a bearer secret under the newest key: what the database stores.

        Lookups use only the newest key; secrets hashed under a retired key stop working
        when it leaves the front of the list, as a rotation should.
        """
        # hmac.digest: OpenSSL's one-shot HMAC, with no HMAC object built per request.
        return hmac.digest(self.signing_key("lookup"), token.encode(), "sha256").hex()


@lru_cache(maxsize=8)
def keyring_for(keys: tuple[str, ...]) -> Keyring:
    return Keyring(list(keys))


def random_token(prefix: str = "", nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-ish time whether or not there is a hash (a missing user costs the same)."""

    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)
