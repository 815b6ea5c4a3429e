"""API tokens: random, shown once, stored only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 512


def issue_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def digests_match(expected: str, candidate: str) -> bool:
    """Constant-time comparison, so a lookup does not leak how much of a digest matched."""
    return hmac.compare_digest(expected.encode("ascii"), candidate.encode("ascii"))
