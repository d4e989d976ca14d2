"""Quality pages (phone-first): raise a ticket by scanning, ticket list and detail, and
the quality dashboard."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
