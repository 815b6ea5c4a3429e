"""Every view, search and download of audit logs becomes an audit event of the viewer's org.

The web server never writes the lake (a page view must not wait for a writer): each read is written as a
one-line NDJSON file into the landing area (the landing folder, or the S3 landing prefix when one is set),
where the landing sensor ingests it like any other event. Ingestion never sees half a file.
"""

from __future__ import annotations

import itertools
import os
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from audit_pipeline.access import User
from audit_pipeline.domain.catalogue import READ_ACTIONS, READS_LOG_TYPE
from audit_pipeline.domain.events import IP_PATTERN, MAX_TEXT_CHARS, AuditEvent, utc_now
from audit_pipeline.storage.landing_batches import READS_SUBFOLDER
from audit_pipeline.storage.landing_writer import land_event_file

AUDIT_LOG_TYPE = READS_LOG_TYPE
LOGS_VIEWED, LOGS_SEARCHED, LOGS_DOWNLOADED = READ_ACTIONS
LANDING_SUBFOLDER = READS_SUBFOLDER
# Changes made on the page (export settings) are not reads: they land apart, so no read batching delays them.
CHANGES_SUBFOLDER = "audit-changes"

_IP = re.compile(IP_PATTERN)


class ReadNotRecordedError(RuntimeError):
    """The read could not be written to the audit log, so it is refused rather than left unaudited."""


class ReadAuditLog:
    """Writes read events into `landing/audit-reads/` (or `subfolder`), staging each file in `staging` first.

    `clock` stamps the events; the server passes the clock its periods end at, so both always agree.
    """

    def __init__(self, landing: Path, staging: Path, clock: Callable[[], datetime] = utc_now, *,
                 subfolder: str = LANDING_SUBFOLDER, id_prefix: str = "read") -> None:
        self._landing = landing
        self._subfolder = subfolder
        self._id_prefix = id_prefix
        self._clock = clock
        self._staging = staging
        self._sequence = itertools.count(1)

    def record(
        self, user: User, action: str, *, source_ip: str | None, user_agent: str | None, details: dict[str, Any],
        log_type: str = AUDIT_LOG_TYPE,
    ) -> AuditEvent:
        occurred_at = self._clock()
        event = AuditEvent(
            event_id=f"{self._id_prefix}-{uuid.uuid4().hex}",
            org_id=user.org_id,
            occurred_at=occurred_at,
            log_type=log_type,
            action=action,
            user_email=user.email,
            user_name=user.name,
            user_role=user.role,
            source_ip=source_ip if source_ip and _IP.fullmatch(source_ip) else None,
            user_agent=user_agent[:MAX_TEXT_CHARS] if user_agent else None,
            additional_info=details,
        )
        name = f"{occurred_at:%Y%m%dT%H%M%S}-{os.getpid()}-{next(self._sequence)}-{event.event_id[-32:-20]}.jsonl"
        try:
            land_event_file(self._landing, self._subfolder, self._staging, name,
                            event.model_dump_json(exclude_none=True) + "\n")
        except OSError as error:
            raise ReadNotRecordedError(f"could not record this read in the audit log: {error}") from error
        return event
