""""Run now" from the web: export runs started in the background, one at a time, and what became of them.

A request returns as soon as the run is queued; the page (or an API client) then asks for the request's
state until it is `succeeded` or `failed`. Runs go through the same Dagster job as `audit-pipeline export
run`, so each one is in Dagster's run history too. Runs are executed one after another in one worker thread,
so the web server never runs several exports at once, and a second click on "Run now" while a run of that
export is still queued or running returns that run instead of starting another.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from audit_pipeline.settings import Paths

RunState = Literal["queued", "running", "succeeded", "failed"]
KEPT_REQUESTS = 200


@dataclass(frozen=True)
class RunRequest:
    request_id: str
    name: str
    org_id: str
    requested_by: str
    requested_at: datetime
    state: RunState = "queued"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    run_id: str | None = None
    export_number: int | None = None
    events_exported: int | None = None
    object_keys: tuple[str, ...] = ()
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.state in ("succeeded", "failed")


def _run_in_dagster(paths: Paths, request: RunRequest) -> dict[str, Any]:
    from audit_pipeline.export_runs import run_export_now

    outcome = run_export_now(paths, request.name, trigger="web", requested_by=request.requested_by)
    return {"run_id": outcome.run_id, "export_number": outcome.metadata.get("export_number"),
            "events_exported": outcome.metadata.get("events_exported"),
            "object_keys": tuple(outcome.metadata.get("object_keys") or ())}


class ExportRunQueue:
    def __init__(self, paths: Paths, clock: Callable[[], datetime],
                 runner: Callable[[Paths, RunRequest], dict[str, Any]] = _run_in_dagster) -> None:
        self._paths = paths
        self._clock = clock
        self._runner = runner
        self._lock = threading.Lock()
        self._requests: OrderedDict[str, RunRequest] = OrderedDict()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-run")

    def submit(self, name: str, org_id: str, requested_by: str) -> tuple[RunRequest, bool]:
        """Queue a run of export `name`; returns the request and False when one was already pending."""
        with self._lock:
            for existing in reversed(self._requests.values()):
                if existing.name == name and not existing.done:
                    return existing, False
            request = RunRequest(uuid.uuid4().hex, name, org_id, requested_by, self._clock())
            self._requests[request.request_id] = request
            while len(self._requests) > KEPT_REQUESTS:
                self._requests.popitem(last=False)
        self._executor.submit(self._run, request.request_id)
        return request, True

    def get(self, request_id: str) -> RunRequest | None:
        with self._lock:
            return self._requests.get(request_id)

    def latest(self, name: str) -> RunRequest | None:
        with self._lock:
            return next((r for r in reversed(self._requests.values()) if r.name == name), None)

    def close(self) -> None:
        """Let a running export finish (its bookkeeping must not be cut off); drop queued ones."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _update(self, request_id: str, **changes: Any) -> RunRequest:
        with self._lock:
            request = replace(self._requests[request_id], **changes)
            self._requests[request_id] = request
            return request

    def _run(self, request_id: str) -> None:
        from audit_pipeline.pipeline_runs import PipelineRunError

        request = self._update(request_id, state="running", started_at=self._clock())
        try:
            outcome = self._runner(self._paths, request)
        except PipelineRunError as error:
            self._update(request_id, state="failed", finished_at=self._clock(), error=str(error))
        except Exception as error:  # the page must learn the run ended, whatever ended it
            self._update(request_id, state="failed", finished_at=self._clock(),
                         error=f"{type(error).__name__}: {error}")
        else:
            self._update(request_id, state="succeeded", finished_at=self._clock(), **outcome)
