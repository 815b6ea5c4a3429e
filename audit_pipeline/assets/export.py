"""The partitioned S3 export asset (being built)."""

import dagster as dg

defs = dg.Definitions()
