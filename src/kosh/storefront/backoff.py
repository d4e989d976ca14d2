"""Exponential backoff with jitter for the storefront's retries (staged orders, sync back)."""

from __future__ import annotations

import random
from datetime import timedelta

from kosh.core.config import Settings


def next_delay(attempts: int, settings: Settings) -> timedelta:
    """Delay before the next try after `attempts` tries: base · 2^(attempts-1), capped, with
    "equal jitter" (a random half of it), so many failed rows do not retry in lockstep."""
    ceiling = min(
        settings.storefront_retry_max_seconds,
        settings.storefront_retry_base_seconds * 2 ** max(0, attempts - 1),
    )
    return timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))  # noqa: S311
