"""Checking a config's delivered history in the bucket against its signed, chained digests.

Over a listing of the org's data and digest folders: every digest's signature by a known key, the chain
from the first digest (or the first after `since`) to the newest without a missing link, every listed file
present with its recorded size and SHA-256, no data file that no digest lists, and windows that follow on
from each other. Each problem names the object it is about.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from audit_pipeline.export.digest import (
    DIGEST_SUFFIX,
    DigestFormatError,
    DigestLink,
    canonical_bytes,
    data_folder,
    digest_folder,
    parse,
)
from audit_pipeline.export.signing import PublicKey

MODIFIED = "modified"
MISSING = "missing"
UNLISTED = "unlisted"
BAD_SIGNATURE = "bad-signature"
CHAIN_BROKEN = "chain-broken"
WINDOW_GAP = "window-gap"
PROBLEM_KINDS = (MODIFIED, MISSING, UNLISTED, BAD_SIGNATURE, CHAIN_BROKEN, WINDOW_GAP)

# Data files and digests alike are named `<cutoff>_<export number>_...`.
NAME_CUTOFF = re.compile(r"(?P<cutoff>\d{8}T\d{6}Z)_\d{8}_")


class BucketReader(Protocol):
    """Read access to the customer's bucket (s3:ListBucket and s3:GetObject)."""

    def sizes(self, prefix: str) -> dict[str, int]:
        """Every key below `prefix` with its size."""
        ...

    def read(self, key: str) -> bytes: ...

    def sha256(self, key: str) -> str: ...


@dataclass(frozen=True)
class Problem:
    kind: str
    key: str
    detail: str

    def line(self) -> str:
        return f"{self.kind} {self.key}: {self.detail}"


@dataclass
class Verification:
    problems: list[Problem] = field(default_factory=list)
    digests: int = 0
    files: int = 0
    chain_head: DigestLink | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, key: str, detail: str) -> None:
        problem = Problem(kind, key, detail)
        if problem not in self.problems:
            self.problems.append(problem)


@dataclass(frozen=True)
class _Digest:
    key: str
    sha256: str
    document: dict[str, Any]


def name_cutoff(key: str) -> datetime | None:
    match = NAME_CUTOFF.match(key.rsplit("/", 1)[-1])
    if match is None:
        return None
    return datetime.strptime(match["cutoff"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def _in_scope(cutoff: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    if cutoff is None:
        return True
    return (since is None or cutoff >= since) and (until is None or cutoff < until)


def _read_digest(reader: BucketReader, key: str, find_key: Callable[[str], PublicKey | None],
                 result: Verification) -> _Digest | None:
    body = reader.read(key)
    try:
        document, signature = parse(body)
    except DigestFormatError as error:
        result.add(BAD_SIGNATURE, key, str(error))
        return None
    signer = find_key(str(document["signing_key_id"]))
    if signer is None:
        result.add(BAD_SIGNATURE, key, f"signed by unknown key {document['signing_key_id']}")
    elif not signer.verifies(signature, canonical_bytes(document)):
        result.add(BAD_SIGNATURE, key, f"the signature does not match key {signer.key_id}")
    if document["digest_key"] != key:
        result.add(CHAIN_BROKEN, key, f"holds the digest of {document['digest_key']}")
    return _Digest(key, hashlib.sha256(body).hexdigest(), document)


def _check_files(reader: BucketReader, digest: _Digest, sizes: dict[str, int], result: Verification) -> None:
    for item in digest.document["files"]:
        key = item["key"]
        result.files += 1
        if key not in sizes:
            result.add(MISSING, key, f"listed by {digest.key}, not in the bucket")
        elif sizes[key] != item["bytes"]:
            result.add(MODIFIED, key, f"{sizes[key]} bytes, {item['bytes']} recorded in {digest.key}")
        elif reader.sha256(key) != item["sha256"]:
            result.add(MODIFIED, key, f"SHA-256 differs from the one recorded in {digest.key}")


def _follows(previous: _Digest, digest: _Digest) -> bool:
    before, after = previous.document, digest.document
    return bool(
        after["export_number"] == before["export_number"] + 1
        and after["window"]["from_seq"] == before["window"]["to_seq"]
        and after["window"]["previous_cutoff"] == before["window"]["cutoff"]
    )


def _check_link(previous: _Digest | None, digest: _Digest, digest_keys: set[str], from_start: bool,
                result: Verification) -> None:
    """The digest names the one before it by key and SHA-256, and its window starts where that one ended."""
    link = digest.document["previous_digest"]
    if previous is None:
        if not from_start:
            return
        if link is not None and link["key"] in digest_keys:
            result.add(CHAIN_BROKEN, digest.key, f"names {link['key']} as previous, but comes first")
        elif link is not None:
            result.add(MISSING, link["key"], f"named by {digest.key} as the digest before it")
        elif digest.document["export_number"] == 1 and digest.document["window"]["from_seq"] != 0:
            result.add(WINDOW_GAP, digest.key, "the first export does not start at the beginning")
        return
    if link is None:
        result.add(CHAIN_BROKEN, digest.key, f"names no previous digest, but {previous.key} comes before it")
    elif link["key"] != previous.key and link["key"] not in digest_keys:
        result.add(MISSING, link["key"], f"named by {digest.key} as the digest before it")
    elif link["key"] != previous.key:
        result.add(CHAIN_BROKEN, digest.key, f"names {link['key']} as previous, but {previous.key} comes before it")
    elif link["sha256"] != previous.sha256:
        result.add(CHAIN_BROKEN, digest.key, f"the SHA-256 of {previous.key} is not the one it was chained to")
    elif not _follows(previous, digest):
        result.add(WINDOW_GAP, digest.key,
                   f"export {digest.document['export_number']} (from ingest_seq "
                   f"{digest.document['window']['from_seq']}) does not follow on from {previous.key} "
                   f"(export {previous.document['export_number']}, to {previous.document['window']['to_seq']})")


def _digest_keys(sizes: dict[str, int], result: Verification) -> Iterator[str]:
    for key in sorted(sizes):
        if key.endswith(DIGEST_SUFFIX) and name_cutoff(key) is not None:
            yield key
        else:
            result.add(UNLISTED, key, "in the digest folder but not a digest")


def verify_history(
    reader: BucketReader,
    *,
    prefix: str,
    org_id: str,
    find_key: Callable[[str], PublicKey | None],
    since: datetime | None = None,
    until: datetime | None = None,
    expected_head: DigestLink | None = None,
) -> Verification:
    """Every check over the digests (and the data files) whose cutoff lies in [since, until)."""
    result = Verification()
    digest_sizes = reader.sizes(digest_folder(prefix, org_id))
    data_sizes = reader.sizes(data_folder(prefix, org_id))
    all_digests = set(_digest_keys(digest_sizes, result))
    listed: set[str] = set()
    previous: _Digest | None = None
    for key in sorted(k for k in all_digests if _in_scope(name_cutoff(k), since, until)):
        digest = _read_digest(reader, key, find_key, result)
        result.digests += 1
        if digest is None:
            continue
        _check_files(reader, digest, data_sizes, result)
        listed.update(item["key"] for item in digest.document["files"])
        if digest.document["digest_key"] == key:  # a digest moved to another key is reported once, above
            _check_link(previous, digest, all_digests, since is None, result)
        previous = digest
        result.chain_head = DigestLink(digest.key, digest.sha256)
    for key in sorted(data_sizes):
        if key not in listed and _in_scope(name_cutoff(key), since, until):
            result.add(UNLISTED, key, "a data file no digest lists")
    if expected_head is not None and until is None:
        if expected_head.key not in all_digests:
            result.add(MISSING, expected_head.key, "the digest of the last delivered export")
        elif reader.sha256(expected_head.key) != expected_head.sha256:
            result.add(MODIFIED, expected_head.key, "the digest of the last delivered export changed")
    return result
