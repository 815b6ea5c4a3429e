"""The Ed25519 key pair that signs export digests, and the public keys of earlier pairs.

The key ring is one JSON file, readable only by its owner (0600): by default `export-signing-keys.json` in
the home folder; a shared deployment points AUDIT_PIPELINE_SIGNING_KEYS at one file for every process. It is
created on first use. Rotating makes a new pair the current one and keeps only the public half of the old
one, so digests signed before still verify while the old private key is gone.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit_pipeline.settings import Paths

KEYRING_ENV = "AUDIT_PIPELINE_SIGNING_KEYS"
KEYRING_FILE = "export-signing-keys.json"
ALGORITHM = "Ed25519"
OWNER_ONLY = 0o600


class SigningKeyError(RuntimeError):
    """The key ring file cannot be read or is not one this program wrote."""


def keyring_path(paths: Paths) -> Path:
    configured = os.environ.get(KEYRING_ENV, "").strip()
    return Path(configured).expanduser().resolve() if configured else paths.home / KEYRING_FILE


def key_id(public_key: Ed25519PublicKey) -> str:
    """The SHA-256 of the raw 32-byte public key, in hex: what a digest names its signer by."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_pem(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode("ascii"))
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError("the public key is not an Ed25519 key")
    return key


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    pem: str
    created_at: str
    retired_at: str | None

    def verifies(self, signature: bytes, message: bytes) -> bool:
        try:
            load_public_pem(self.pem).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class KeyRing:
    """The current private key and every public key the deployment ever signed with."""

    current: Ed25519PrivateKey
    public_keys: tuple[PublicKey, ...]

    @property
    def current_id(self) -> str:
        return key_id(self.current.public_key())

    @property
    def current_public(self) -> PublicKey:
        return self.find(self.current_id)  # type: ignore[return-value]

    def find(self, wanted: str) -> PublicKey | None:
        return next((k for k in self.public_keys if k.key_id == wanted), None)

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signatures are deterministic: the same message always gives the same signature."""
        return self.current.sign(message)


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _new_entry(private_key: Ed25519PrivateKey) -> dict[str, str | None]:
    public = private_key.public_key()
    return {"key_id": key_id(public), "public_key_pem": public_pem(public), "created_at": _iso_now(),
            "retired_at": None}


def _private_pem(private_key: Ed25519PrivateKey) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _document(private_key: Ed25519PrivateKey, keys: list[dict[str, str | None]]) -> bytes:
    return json.dumps({"algorithm": ALGORITHM, "private_key_pem": _private_pem(private_key), "keys": keys},
                      indent=2).encode("utf-8")


def _write_private_file(folder: Path, content: bytes) -> Path:
    """A temporary file beside the target, 0600 from the moment it exists."""
    handle, name = tempfile.mkstemp(prefix=".signing-", dir=folder)
    try:
        os.fchmod(handle, OWNER_ONLY)
        os.write(handle, content)
        os.fsync(handle)
    finally:
        os.close(handle)
    return Path(name)


def _parse(path: Path) -> KeyRing:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        private_key = serialization.load_pem_private_key(document["private_key_pem"].encode("ascii"), None)
        keys = tuple(PublicKey(k["key_id"], k["public_key_pem"], k["created_at"], k.get("retired_at"))
                     for k in document["keys"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SigningKeyError(f"signing key file {path} is unreadable or damaged: {error}") from error
    if not isinstance(private_key, Ed25519PrivateKey):
        raise SigningKeyError(f"signing key file {path} does not hold an Ed25519 key")
    ring = KeyRing(private_key, keys)
    if ring.find(ring.current_id) is None:
        raise SigningKeyError(f"signing key file {path} does not list its current public key")
    return ring


def load_or_create(path: Path) -> KeyRing:
    """The key ring at `path`, generated if there is none; two processes starting at once agree on one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        private_key = Ed25519PrivateKey.generate()
        candidate = _write_private_file(path.parent, _document(private_key, [_new_entry(private_key)]))
        try:
            os.link(candidate, path)  # atomic, and refused if another process created the file first
        except FileExistsError:
            pass
        finally:
            candidate.unlink()
    if path.stat().st_mode & 0o077:
        raise SigningKeyError(f"signing key file {path} is readable by others: chmod 600 {path}")
    return _parse(path)


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    with path.with_name(path.name + ".lock").open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def rotate(path: Path) -> KeyRing:
    """A new current key pair; the previous public keys stay (marked retired), the old private key goes."""
    with _exclusive(path):
        ring = load_or_create(path)
        retired = _iso_now()
        keys: list[dict[str, str | None]] = [
            {"key_id": k.key_id, "public_key_pem": k.pem, "created_at": k.created_at,
             "retired_at": k.retired_at or retired}
            for k in ring.public_keys
        ]
        private_key = Ed25519PrivateKey.generate()
        keys.append(_new_entry(private_key))
        candidate = _write_private_file(path.parent, _document(private_key, keys))
        os.replace(candidate, path)
    return _parse(path)
