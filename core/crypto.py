"""Access tokens at rest: encrypted with Fernet (AES-128-CBC + HMAC-SHA256).

``TOKEN_ENCRYPTION_KEY`` may list several comma-separated keys: the first encrypts, all of them
decrypt, so a key can be rotated without a migration: put the new key first, run
``flask --app web rotate-keys`` (core/ops/key_rotation.py re-encrypts every stored token with it),
then drop the old key.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, MultiFernet

from core.settings import get_settings


def _fernet() -> MultiFernet:
    keys = [key.strip() for key in get_settings().token_encryption_key.split(",") if key.strip()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt_token(token: str | None) -> bytes | None:
    return None if token is None else _fernet().encrypt(token.encode())


def decrypt_token(ciphertext: bytes | None) -> str | None:
    return None if ciphertext is None else _fernet().decrypt(bytes(ciphertext)).decode()


def reencrypt(ciphertext: bytes | None) -> bytes | None:
    """``ciphertext`` encrypted again with the first key (any listed key may have made it)."""
    return None if ciphertext is None else _fernet().rotate(bytes(ciphertext))
