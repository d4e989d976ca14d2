"""The shop floor reacts to production jobs (docs/adr/0002): a released job gets its
operations from its routing and is scheduled (as its release asked); a completed or
cancelled job frees the capacity it holds.
Both run inside the job's transaction, so a failure here refuses the release (for
example 422 operation_too_long) and changes nothing."""

from __future__ import annotations

from kosh.core import events
from kosh.shopfloor import scheduling

events.subscribe(events.JOB_RELEASED, scheduling.on_jobs_released)
events.subscribe(events.JOB_CLOSED, scheduling.on_jobs_closed)

SUBSCRIBERS = (scheduling.on_jobs_released, scheduling.on_jobs_closed)
