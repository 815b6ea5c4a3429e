"""An S3 prefix as the landing area: what waits there, reading it through DuckDB, and archiving it.

`AUDIT_PIPELINE_LANDING=s3://bucket/prefix/` makes the prefix a landing area beside the home's landing folder.
Objects are read straight from S3 by DuckDB (httpfs, `read_blob`), ingested like landing files, recorded in
`ingested_files` under their `s3://` name with their SHA-256 in the same commit as their events, and then moved
(copied, then deleted) to `s3://bucket/archive/<day>/<batch>/<key>`. The prefix therefore holds only pending
work, whatever order keys arrive in: listing it costs what is waiting, never the history, and no key that sorts
before one already seen can be skipped. A key still there after its commit (a crash before the move) is
recognised by its SHA-256, skipped and moved by the next run.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import duckdb

from audit_pipeline.storage.ingest import LandingItem
from audit_pipeline.storage.lake import s3_secret_sql
from audit_pipeline.storage.landing_files import is_landing_file

LANDING_ENV = "AUDIT_PIPELINE_LANDING"
ARCHIVE_ROOT = "archive/"


class LandingConfigError(ValueError):
    """AUDIT_PIPELINE_LANDING cannot be used as given."""


@dataclass(frozen=True)
class S3Landing:
    bucket: str
    prefix: str  # ends with "/"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def archive_key(self, key: str, batch_id: str) -> str:
        return f"{ARCHIVE_ROOT}{datetime.now(UTC):%Y-%m-%d}/{batch_id}/{key}"


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int
    etag: str
    last_modified: datetime


def parse_landing(value: str) -> S3Landing:
    parts = urlsplit(value)
    prefix = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not prefix.strip("/"):
        raise LandingConfigError(f"{LANDING_ENV} must look like s3://bucket/prefix/ (a prefix, not the whole "
                                 f"bucket: ingested objects move to s3://bucket/{ARCHIVE_ROOT}), got {value!r}")
    prefix = prefix.rstrip("/") + "/"
    if prefix.startswith(ARCHIVE_ROOT):
        raise LandingConfigError(f"{LANDING_ENV} cannot be under s3://{parts.netloc}/{ARCHIVE_ROOT}, where "
                                 "ingested objects are archived")
    return S3Landing(parts.netloc, prefix)


def landing_from_env() -> S3Landing | None:
    """The S3 landing prefix when AUDIT_PIPELINE_LANDING names one; None keeps the landing folder alone."""
    value = os.environ.get(LANDING_ENV, "").strip()
    return parse_landing(value) if value else None


_CLIENT_SETTINGS = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_PROFILE",
                    "AWS_DEFAULT_REGION", "AWS_REGION")


def s3_client() -> Any:
    """A client from boto3's standard settings (credentials chain, AWS_ENDPOINT_URL, AWS_DEFAULT_REGION).

    Kept per process for the settings it was made with: making one costs tens of milliseconds, and the web
    server lands one object per audited read."""
    return _client_for(tuple(os.environ.get(name, "") for name in _CLIENT_SETTINGS))


@functools.lru_cache(maxsize=4)
def _client_for(settings: tuple[str, ...]) -> Any:
    import boto3

    return boto3.session.Session().client("s3")


def pending_objects(client: Any, landing: S3Landing) -> list[S3Object]:
    """The landing objects waiting under the prefix, oldest first (key order breaks ties)."""
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=landing.bucket, Prefix=landing.prefix):
        for entry in page.get("Contents", []):
            key = entry["Key"]
            if is_landing_file(PurePosixPath(key)):
                found.append(S3Object(key, int(entry["Size"]), str(entry["ETag"]).strip('"'),
                                      entry["LastModified"]))
    return sorted(found, key=lambda o: (o.last_modified, o.key))


def landing_items(
    connection: duckdb.DuckDBPyConnection, client: Any, landing: S3Landing, objects: list[S3Object]
) -> list[LandingItem]:
    """The objects as landing items whose bytes DuckDB reads from S3 when ingestion reaches them."""
    # Its own cursor: items are read in ingestion's read-ahead thread while `connection` runs statements.
    reader = connection.cursor()
    reader.execute("LOAD httpfs")
    reader.execute(s3_secret_sql("landing_s3", scope=f"s3://{landing.bucket}"))
    return [_item(reader, client, landing, entry.key) for entry in objects]


def _item(reader: duckdb.DuckDBPyConnection, client: Any, landing: S3Landing, key: str) -> LandingItem:
    url = f"s3://{landing.bucket}/{key}"

    def read() -> bytes:
        row = reader.execute("SELECT content FROM read_blob(?)", [url]).fetchone()
        return bytes(row[0]) if row and row[0] is not None else b""

    def archive(batch_id: str) -> None:
        target = landing.archive_key(key, batch_id)
        try:
            client.copy_object(Bucket=landing.bucket, Key=target,
                               CopySource={"Bucket": landing.bucket, "Key": key})
        except client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return  # a run that ingested the same object at the same time archived it first
            raise
        client.delete_object(Bucket=landing.bucket, Key=key)

    return LandingItem(PurePosixPath(key), url, archive, read)
