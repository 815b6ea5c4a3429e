"""Investigation views derived from the events table (being built)."""

import dagster as dg

defs = dg.Definitions()
