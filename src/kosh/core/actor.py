"""Who is acting: set once per request (or by the CLI / worker), read by audit and the ledger."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str  # "user", "token" or "system"
    id: int | None
    name: str


SYSTEM = Actor(kind="system", id=None, name="system")

_actor: ContextVar[Actor] = ContextVar("kosh_actor", default=SYSTEM)


def set_actor(actor: Actor) -> None:
    _actor.set(actor)


def current_actor() -> Actor:
    return _actor.get()
