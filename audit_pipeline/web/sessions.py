"""Signed session cookies: who signed in, with which token, and when; nothing secret is stored in them.

The cookie carries the user's email, a keyed fingerprint of their token digest and the sign-in time, signed
with HMAC-SHA256 under a random key kept in the home folder. A revoked user, or one given a new token, no
longer matches, so revocation ends their sessions too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

SESSION_COOKIE = "audit_logs_session"
SESSION_LIFETIME = timedelta(hours=12)
KEY_BYTES = 32
MAX_COOKIE_CHARS = 4096


@dataclass(frozen=True)
class Session:
    email: str
    token_fingerprint: str
    signed_in_at: datetime


def load_or_create_key(path: Path) -> bytes:
    """The signing key; created once (readable only by its owner) the first time the server starts.

    The key is written to a private temporary file and hard-linked into place, so a second server starting
    at the same moment either wins the link or reads the complete key of the first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        staged = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(secrets.token_bytes(KEY_BYTES))
            os.link(staged, path)
        except FileExistsError:
            pass
        finally:
            staged.unlink(missing_ok=True)
    key = path.read_bytes()
    if len(key) < KEY_BYTES:
        raise RuntimeError(f"{path} holds a session key shorter than {KEY_BYTES} bytes; delete it to make a new one")
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def token_fingerprint(self, token_sha256: str) -> str:
        return hmac.new(self._key, b"token:" + token_sha256.encode("ascii"), hashlib.sha256).hexdigest()[:32]

    def sign(self, email: str, token_sha256: str, now: datetime) -> str:
        payload = json.dumps(
            {"email": email, "token": self.token_fingerprint(token_sha256), "at": int(now.timestamp())},
            separators=(",", ":"),
        ).encode("utf-8")
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def verify(self, value: str, now: datetime) -> Session | None:
        """The session in a cookie value, or None when it is forged, damaged or expired."""
        if len(value) > MAX_COOKIE_CHARS or value.count(".") != 1:
            return None
        encoded_payload, encoded_mac = value.split(".")
        try:
            payload, mac = _unb64(encoded_payload), _unb64(encoded_mac)
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        claims = json.loads(payload)
        signed_in_at = datetime.fromtimestamp(claims["at"], tz=now.tzinfo)
        if not signed_in_at <= now < signed_in_at + SESSION_LIFETIME:
            return None
        return Session(email=claims["email"], token_fingerprint=claims["token"], signed_in_at=signed_in_at)

    def matches(self, session: Session, token_sha256: str) -> bool:
        return hmac.compare_digest(session.token_fingerprint, self.token_fingerprint(token_sha256))

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, b"session:" + payload, hashlib.sha256).digest()
