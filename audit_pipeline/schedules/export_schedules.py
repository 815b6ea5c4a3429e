"""One schedule per export configuration (being built)."""

import dagster as dg

defs = dg.Definitions()
