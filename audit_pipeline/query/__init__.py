"""Filtering, search, facets and paging over the events table: the one implementation that the CLI, the web
page and the notebook share.

`filters` holds what can be asked (`LogFilter`, periods, time parsing), `search` the search-bar language,
`sql` the translation to parameterized SQL, `sources` where counts are read (the daily rollup for whole days,
or for free text the search rollup through `indexed_search`; the events for the rest), `paging` how a page
is located, `logs` the queries, `display` the shown column values.
"""

from audit_pipeline.query.display import display_additional_info, display_user
from audit_pipeline.query.filters import PERIODS, LogFilter, QueryError, parse_time, period_bounds
from audit_pipeline.query.logs import (
    EventPage,
    count_events,
    facets,
    iter_event_batches,
    list_events,
    list_events_with_facets,
)

__all__ = [
    "PERIODS",
    "EventPage",
    "LogFilter",
    "QueryError",
    "count_events",
    "display_additional_info",
    "display_user",
    "facets",
    "iter_event_batches",
    "list_events",
    "list_events_with_facets",
    "parse_time",
    "period_bounds",
]
