"""Personal data protection (PIPL): AES-256-GCM at rest, HMAC blind index, masking.

Ciphertext format (text, safe for any DB): ``v1:<kid>:<base64(nonce|ciphertext|tag)>``. The key id
is stored with every value so keys can be rotated: encrypt with the first key, decrypt with any.
Keys come from the environment (LINLI_PII_KEYS="kid:base64-32-bytes,..."). Without keys a
deterministic development key is derived and a warning is logged; production must set them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import unicodedata
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import models

log = logging.getLogger(__name__)
PREFIX = "v1"
_DEV_SEED = b"linli-development-only-key-material"


class KeyError_(Exception):
    pass


@lru_cache(maxsize=1)
def _keyring() -> tuple[str, dict[str, bytes]]:
    raw = getattr(settings, "LINLI_PII_KEYS", "") or ""
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for part in [p.strip() for p in raw.split(",") if p.strip()]:
        kid, _, b64 = part.partition(":")
        key = base64.b64decode(b64)
        if len(key) != 32 or not kid or ":" in kid:
            raise KeyError_("LINLI_PII_KEYS entries must be 'kid:base64(32 bytes)'")
        keys[kid] = key
        order.append(kid)
    if not keys:
        if not getattr(settings, "LINLI_PII_DEV_KEYS_ALLOWED", False):
            raise KeyError_("LINLI_PII_KEYS must be set when LINLI_DEBUG is off (or set LINLI_ALLOW_DEV_KEYS=1)")
        log.warning("LINLI_PII_KEYS not set: using a development key (never in production)")
        keys["dev"] = hashlib.sha256(_DEV_SEED + b"/aes").digest()
        order.append("dev")
    return order[0], keys


@lru_cache(maxsize=1)
def _index_key() -> bytes:
    raw = getattr(settings, "LINLI_BLIND_INDEX_KEY", "") or ""
    if raw:
        return base64.b64decode(raw)
    return hashlib.sha256(_DEV_SEED + b"/hmac").digest()


def reset_keys() -> None:
    _keyring.cache_clear()
    _index_key.cache_clear()


def active_key_id() -> str:
    return _keyring()[0]


def encrypt(plaintext: str, *, aad: bytes = b"linli") -> str:
    kid, keys = _keyring()
    nonce = os.urandom(12)
    ct = AESGCM(keys[kid]).encrypt(nonce, plaintext.encode("utf-8"), aad)
    return f"{PREFIX}:{kid}:{base64.b64encode(nonce + ct).decode('ascii')}"


def decrypt(token: str, *, aad: bytes = b"linli") -> str:
    prefix, kid, b64 = token.split(":", 2)
    if prefix != PREFIX:
        raise ValueError("unknown ciphertext version")
    _, keys = _keyring()
    if kid not in keys:
        raise KeyError_(f"no key with id {kid!r} (rotation: keep old keys in LINLI_PII_KEYS)")
    blob = base64.b64decode(b64)
    return AESGCM(keys[kid]).decrypt(blob[:12], blob[12:], aad).decode("utf-8")


def key_id_of(token: str | None) -> str | None:
    if not token:
        return None
    parts = token.split(":", 2)
    return parts[1] if len(parts) == 3 else None


def normalise(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().upper().replace(" ", "")


def blind_index(value: str, *, purpose: str) -> str:
    """Deterministic keyed hash for exact lookup without decrypting (purpose separates domains)."""
    mac = hmac.new(_index_key(), f"{purpose}\x00{normalise(value)}".encode(), hashlib.sha256)
    return mac.hexdigest()[:40]


class EncryptedTextField(models.TextField):
    """Stores ciphertext; Python side always sees plaintext (or None)."""

    description = "AES-256-GCM encrypted text"

    def from_db_value(self, value, expression, connection):  # noqa: ARG002
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def get_internal_type(self) -> str:
        return "TextField"


# ---- masking -------------------------------------------------------------------------------


def mask_name(name: str | None) -> str:
    if not name:
        return ""
    if len(name) == 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id_number(value: str | None) -> str:
    if not value:
        return ""
    if len(value) <= 8:
        return value[:1] + "*" * (len(value) - 2) + value[-1:]
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str | None) -> str:
    if not value:
        return ""
    digits = value[-11:] if len(value) >= 11 else value
    if len(digits) == 11:
        return digits[:3] + "****" + digits[-4:]
    return "*" * max(len(value) - 4, 0) + value[-4:]
