"""Landing one small file of events so that ingestion never sees half of it.

The file is written and synced in a staging folder outside the landing folder, then renamed in. With an S3
landing prefix (AUDIT_PIPELINE_LANDING) it becomes one object under the prefix instead, so events the web
server or a replay records reach the ingestion of whichever machine ingests that prefix; a PutObject is never
seen half written.
"""

from __future__ import annotations

import os
from pathlib import Path


def land_event_file(landing: Path, subfolder: str, staging: Path, name: str, text: str) -> str:
    """Land `text` as `<subfolder>/<name>` in the landing area: the S3 prefix when one is set, else the folder.

    Returns where it landed. Raises OSError on failure (a failed upload included)."""
    from audit_pipeline.storage.s3_landing import landing_from_env, s3_client

    s3 = landing_from_env()
    if s3 is None:
        return str(land_file(landing / subfolder, staging, name, text))
    key = f"{s3.prefix}{subfolder}/{name}"
    try:
        s3_client().put_object(Bucket=s3.bucket, Key=key, Body=text.encode("utf-8"),
                               ContentType="application/x-ndjson")
    except Exception as error:
        raise OSError(f"could not write s3://{s3.bucket}/{key}: {error}") from error
    return f"s3://{s3.bucket}/{key}"


def land_file(target: Path, staging: Path, name: str, text: str) -> Path:
    """Write `text` to `target/name` atomically; returns the landed path. Raises OSError on failure."""
    staging.mkdir(parents=True, exist_ok=True)
    target.mkdir(parents=True, exist_ok=True)
    staged = staging / name
    try:
        with staged.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        landed = target / name
        os.replace(staged, landed)
        return landed
    finally:
        staged.unlink(missing_ok=True)
