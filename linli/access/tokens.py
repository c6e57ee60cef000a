"""Secrets of access control: QR pass tokens, credential hashes, the signed offline allow-list.

* QR token = ``base64url(payload) "." base64url(Ed25519 signature of payload)``; the payload is compact
  JSON ``{"t": "r"|"v", "i": credential or invite id, "p": person id, "g": [group ids] or null,
  "e": expiry (unix s), "n": nonce, "k": key id}``. It is signed with its own Ed25519 key so that a
  controller that fell back offline verifies it with the public key from its allow-list (A3) and can
  never mint one. Verification rejects bad signatures and expired tokens.
* Card/PIN/biometric values: ``pii.blind_index`` (purpose "credential…") for server lookup, and an
  ``offline_tag`` (HMAC with the gate-provisioning key, not the registry's blind-index key, so a
  controller never holds a key that also indexes ID numbers) for offline matching.
* The allow-list is signed with Ed25519; controllers hold only the public key.
Keys come from the environment (LINLI_ACCESS_QR_KEY (Ed25519 seed), LINLI_ACCESS_OFFLINE_KEY, LINLI_ACCESS_SIGNING_KEY,
base64); without them they are derived from SECRET_KEY (development).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings

from linli.core import pii

QR_DEFAULT_TTL = 60


def _key(env: str, label: bytes) -> bytes:
    raw = os.environ.get(env, "")
    if raw:
        return base64.b64decode(raw)
    return hashlib.sha256(settings.SECRET_KEY.encode() + b"/linli-access/" + label).digest()


@lru_cache(maxsize=1)
def qr_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_key("LINLI_ACCESS_QR_KEY", b"qr")[:32])


@lru_cache(maxsize=1)
def _qr_public() -> tuple[Ed25519PublicKey, bytes]:
    pub = qr_signing_key().public_key()
    return pub, pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def qr_public_key_b64() -> str:
    return base64.b64encode(_qr_public()[1]).decode()


def qr_key_id() -> str:
    """Short id of the QR key (first 8 hex digits of SHA-256 of the raw public key), for rotation."""
    return hashlib.sha256(_qr_public()[1]).hexdigest()[:8]


@lru_cache(maxsize=1)
def offline_key() -> bytes:
    return _key("LINLI_ACCESS_OFFLINE_KEY", b"offline")


@lru_cache(maxsize=1)
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_key("LINLI_ACCESS_SIGNING_KEY", b"ed25519")[:32])


def public_key_b64() -> str:
    raw = signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# ---- credential values ------------------------------------------------------------------------


def normalise_value(kind: str, value: str, *, house_id: int | None = None) -> str:
    """What is hashed for a kind: a PIN is only unique within its house."""
    v = pii.normalise(value)
    return f"{house_id or 0}:{v}" if kind == "pin" else v


def secret_index(kind: str, value: str, *, house_id: int | None = None) -> str:
    return pii.blind_index(normalise_value(kind, value, house_id=house_id), purpose=f"credential:{kind}")


def offline_tag(kind: str, value: str, *, house_id: int | None = None) -> str:
    msg = f"{kind}\x00{normalise_value(kind, value, house_id=house_id)}".encode()
    return hmac.new(offline_key(), msg, hashlib.sha256).hexdigest()[:32]


# ---- QR tokens --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QrClaims:
    type: str  # "r" resident credential, "v" visitor invite
    id: int
    person_id: int | None
    group_ids: tuple[int, ...] | None
    expires: int


class QrError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def qr_sign(*, type: str, id: int, person_id: int | None, group_ids: list[int] | None, expires: int) -> str:
    payload = json.dumps({"t": type, "i": id, "p": person_id, "g": group_ids, "e": int(expires), "n": secrets.token_hex(6),
                          "k": qr_key_id()}, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(qr_signing_key().sign(payload))}"


def qr_verify(token: str, *, now: float | None = None, public_key: str | None = None) -> QrClaims:
    """Claims of a valid token; QrError("qr_invalid" | "qr_expired") otherwise. ``public_key`` (base64)
    is what an offline controller passes: the key from its allow-list."""
    try:
        body, _, sig = token.strip().partition(".")
        if len(body) > 1000 or len(sig) > 100:
            raise QrError("qr_invalid")
        payload = _unb64(body)
        pub = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key)) if public_key else _qr_public()[0]
        try:
            pub.verify(_unb64(sig), payload)
        except InvalidSignature as exc:
            raise QrError("qr_invalid") from exc
        data = json.loads(payload)
        claims = QrClaims(str(data["t"]), int(data["i"]), data.get("p"),
                          tuple(int(g) for g in data["g"]) if data.get("g") is not None else None, int(data["e"]))
    except QrError:
        raise
    except Exception as exc:
        raise QrError("qr_invalid") from exc
    if claims.expires <= (time.time() if now is None else now):
        raise QrError("qr_expired")
    return claims


# ---- allow-list signature ---------------------------------------------------------------------


def canonical(doc: dict) -> bytes:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def sign_document(doc: dict) -> str:
    return base64.b64encode(signing_key().sign(canonical(doc))).decode()


def verify_document(doc: dict, signature: str, public_key: str | None = None) -> bool:
    """What a controller does with the downloaded list (and the tests)."""
    pub = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key or public_key_b64()))
    try:
        pub.verify(base64.b64decode(signature), canonical(doc))
        return True
    except Exception:
        return False
