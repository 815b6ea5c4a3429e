"""The signing key ring, and the verification rules over an in-memory bucket (no AWS needed)."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from audit_pipeline.export.bookkeeping import PlannedExport, PlannedPart
from audit_pipeline.export.digest import DigestFile, DigestLink, canonical_bytes, signed_bytes, unsigned_document
from audit_pipeline.export.digest import digest_key as make_digest_key
from audit_pipeline.export.layout import part_key
from audit_pipeline.export.signing import (
    KEYRING_ENV,
    KeyRing,
    SigningKeyError,
    keyring_path,
    load_or_create,
    rotate,
)
from audit_pipeline.export.verify import verify_history
from audit_pipeline.settings import Paths

START = datetime(2026, 11, 20, 10, tzinfo=UTC)


def test_key_ring_is_created_once_owner_only_in_the_home_folder(paths: Paths) -> None:
    path = keyring_path(paths)
    assert path == paths.home / "export-signing-keys.json"
    rings: list[KeyRing] = []
    threads = [threading.Thread(target=lambda: rings.append(load_or_create(path))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({ring.current_id for ring in rings}) == 1, "concurrent first uses agree on one key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert rings[0].current_id == hashlib.sha256(
        rings[0].current.public_key().public_bytes_raw()).hexdigest()


def test_a_shared_deployment_names_its_key_file(paths: Paths, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "secrets" / "signing.json"
    monkeypatch.setenv(KEYRING_ENV, str(shared))
    assert keyring_path(paths) == shared
    load_or_create(keyring_path(paths))
    assert shared.exists() and not (paths.home / "export-signing-keys.json").exists()


def test_rotation_keeps_old_public_keys_and_drops_the_old_private_key(paths: Paths) -> None:
    path = keyring_path(paths)
    first = load_or_create(path)
    signature = first.sign(b"digest")
    second = rotate(path)
    assert second.current_id != first.current_id
    old = second.find(first.current_id)
    assert old is not None and old.retired_at is not None and old.verifies(signature, b"digest")
    assert first.current.private_bytes_raw().hex() not in path.read_text()


def test_a_key_file_readable_by_others_is_refused(paths: Paths) -> None:
    path = keyring_path(paths)
    load_or_create(path)
    os.chmod(path, 0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        load_or_create(path)


class MemoryBucket:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def sizes(self, prefix: str) -> dict[str, int]:
        return {k: len(v) for k, v in self.objects.items() if k.startswith(prefix)}

    def read(self, key: str) -> bytes:
        return self.objects[key]

    def sha256(self, key: str) -> str:
        return hashlib.sha256(self.objects[key]).hexdigest()


def _deliver(bucket: MemoryBucket, ring: KeyRing, number: int, from_seq: int, to_seq: int,
             previous: DigestLink | None) -> DigestLink:
    """What an export writes, built with the product's own document functions."""
    cutoff = START + timedelta(hours=number)
    data_key = part_key("", "acme", cutoff, number, 1, False)
    body = f'{{"n":{number}}}\n'.encode()
    bucket.objects[data_key] = body
    plan = PlannedExport("cfg", "acme-prod", number, "acme", from_seq, to_seq,
                         cutoff - timedelta(hours=1) if number > 1 else None, cutoff, to_seq - from_seq, False,
                         (PlannedPart(1, from_seq, to_seq, to_seq - from_seq, data_key),))
    key = make_digest_key("", "acme", cutoff, number)
    unsigned = unsigned_document(plan, key, [DigestFile(data_key, len(body), hashlib.sha256(body).hexdigest(),
                                                        to_seq - from_seq, 0)], previous, ring.current_id)
    bucket.objects[key] = signed_bytes(unsigned, ring.sign(canonical_bytes(unsigned)))
    return DigestLink(key, hashlib.sha256(bucket.objects[key]).hexdigest())


def test_a_window_that_does_not_follow_on_is_a_window_gap(paths: Paths) -> None:
    ring = load_or_create(keyring_path(paths))
    bucket = MemoryBucket()
    first = _deliver(bucket, ring, 1, 0, 10, None)
    second = _deliver(bucket, ring, 2, 10, 20, first)
    assert verify_history(bucket, prefix="", org_id="acme", find_key=ring.find).ok
    gapped = _deliver(bucket, ring, 3, 25, 30, second)  # events 21-25 never delivered
    result = verify_history(bucket, prefix="", org_id="acme", find_key=ring.find)
    assert [(p.kind, p.key) for p in result.problems] == [("window-gap", gapped.key)]


def test_a_forged_digest_of_the_wrong_shape_is_reported_not_a_crash(paths: Paths) -> None:
    ring = load_or_create(keyring_path(paths))
    bucket = MemoryBucket()
    first = _deliver(bucket, ring, 1, 0, 10, None)
    forged = make_digest_key("", "acme", START + timedelta(hours=2), 2)
    bucket.objects[forged] = canonical_bytes({"format": "audit-pipeline-export-digest/1", "signature": "",
                                              "digest_key": forged, "export_number": 2, "window": {},
                                              "files": "all of them", "previous_digest": None,
                                              "signing_key_id": ring.current_id})
    result = verify_history(bucket, prefix="", org_id="acme", find_key=ring.find)
    assert [(p.kind, p.key) for p in result.problems] == [("bad-signature", forged)]
    assert result.chain_head == first
