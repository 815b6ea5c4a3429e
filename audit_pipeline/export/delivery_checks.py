"""What is checked after every export: its files are in the bucket as planned, its window continues the
previous one, and its files hold exactly the window's events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from audit_pipeline.export.bucket_objects import ReadNotAllowedError, StoredObject
from audit_pipeline.export.delivery_status import DeliveredExport


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)
    severe: bool = True  # False: a warning (e.g. the check could not look)


def objects_as_planned(export: DeliveredExport, stored: Callable[[str], StoredObject]) -> CheckOutcome:
    """Every planned object exists with the recorded size and SHA-256 (and event count when S3 has it)."""
    problems = []
    try:
        for part in export.parts:
            found = stored(part.object_key)
            if found.bytes is None:
                problems.append(f"{part.object_key}: missing")
            elif (found.bytes, found.sha256) != (part.bytes, part.sha256):
                problems.append(f"{part.object_key}: {found.bytes} bytes sha256 {found.sha256}, "
                                f"planned {part.bytes} bytes sha256 {part.sha256}")
            elif found.events is not None and found.events != max(part.events, 1):
                problems.append(f"{part.object_key}: {found.events} events, planned {part.events}")
    except ReadNotAllowedError as error:
        return CheckOutcome(False, f"not checked: {error}", severe=False)
    metadata: dict[str, object] = {"export_number": export.export_number, "objects": len(export.parts),
                                   "problems": problems}
    if problems:
        return CheckOutcome(False, f"{len(problems)} of {len(export.parts)} object(s) differ from the plan: "
                                   + "; ".join(problems[:5]), metadata)
    return CheckOutcome(True, f"all {len(export.parts)} object(s) of export #{export.export_number} are in the "
                              "bucket with the planned size and SHA-256", metadata)


def window_continues(export: DeliveredExport, previous: DeliveredExport | None) -> CheckOutcome:
    """The window starts where the previous one ended: no gap, no overlap, cutoffs chained."""
    expected_from = previous.to_seq if previous else 0
    expected_cutoff = previous.cutoff_at if previous else None
    metadata: dict[str, object] = {"export_number": export.export_number, "from_seq": export.from_seq,
                                   "previous_to_seq": expected_from}
    if export.from_seq != expected_from or export.previous_cutoff_at != expected_cutoff:
        return CheckOutcome(False, f"export #{export.export_number} starts after ingest_seq {export.from_seq} "
                                   f"(previous cutoff {export.previous_cutoff_at}), but the previous export ended "
                                   f"at {expected_from} (cutoff {expected_cutoff})", metadata)
    return CheckOutcome(True, f"export #{export.export_number} starts where the previous ended "
                              f"(ingest_seq {expected_from})", metadata)


def events_match_window(export: DeliveredExport) -> CheckOutcome:
    """The files' events (per part and in total) equal the store's events of the window."""
    in_files = sum(part.events for part in export.parts)
    uneven = [part.part_number for part in export.parts if part.events != part.events_in_store]
    metadata: dict[str, object] = {"events_in_files": in_files, "events_in_window": export.events_in_store}
    if in_files != export.events_in_store or export.events != in_files or uneven:
        return CheckOutcome(False, f"files hold {in_files} events, the window {export.events_in_store}"
                                   + (f" (parts {uneven} differ)" if uneven else ""), metadata)
    return CheckOutcome(True, f"{in_files} events in the files, as in the window", metadata)
