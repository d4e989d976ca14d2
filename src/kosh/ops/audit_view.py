"""The audit trail as people read it: who (linked to the user), what (the entity named from
its own snapshot, e.g. its number or username, and linked to its page), and what changed
(the fields whose value differs between before and after). Pure: no database access."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from kosh.core.models import AuditEvent
from kosh.core.types import is_digits

# entity type -> its page; `{id}` is the audited entity id (documents and purchase orders
# are audited by number, so they have none here; a lot's id is its PCN)
ENTITY_PAGES: dict[str, str] = {
    "part": "/parts/{id}",
    "location": "/locations/{id}",
    "user": "/admin/users/{id}",
    "sales_order": "/sales-orders/{id}",
    "supplier": "/suppliers/{id}",
    "bom": "/boms/{id}",
    "job": "/jobs/{id}",
    "lot": "/pcns/{id}",
    "storefront_staged_order": "/storefront/staged/{id}",
}
# snapshot keys that name an entity, the first one present wins
NAME_KEYS = ("number", "pcn", "code", "username", "name", "sku", "revision", "title")
HIDDEN_KEYS = frozenset({"password_hash", "token_hash", "secret", "totp_secret", "version"})
MAX_SHOWN = 120  # characters of one value


@dataclass(frozen=True)
class Change:
    name: str
    before: str
    after: str


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    actor_href: str | None
    action: str
    entity: str
    entity_href: str | None
    request_id: str
    changes: list[Change] = field(default_factory=list)


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Change]:
    """The fields that differ, in the snapshot's order; a creation lists what was set, a
    deletion what was there. Secrets and version counters are left out."""
    old, new = before or {}, after or {}
    names = [*old, *(k for k in new if k not in old)]
    return [
        Change(name.replace("_", " "), _shown(old.get(name)), _shown(new.get(name)))
        for name in names
        if name not in HIDDEN_KEYS and old.get(name) != new.get(name)
    ]


def _entity(event: AuditEvent) -> tuple[str, str | None]:
    kind = event.entity_type.replace("_", " ")
    snapshot = event.after or event.before or {}
    name = next((str(snapshot[k]) for k in NAME_KEYS if snapshot.get(k) not in (None, "")), None)
    label = f"{kind} {name or event.entity_id or ''}".strip()
    page = ENTITY_PAGES.get(event.entity_type)
    deleted = event.after is None and event.before is not None
    entity_id = event.entity_id or ""
    linkable = bool(page) and not deleted and (is_digits(entity_id) or event.entity_type == "lot")
    href = page.format(id=quote(entity_id, safe="")) if page and linkable else None
    return label, href


def describe(event: AuditEvent) -> AuditRow:
    entity, href = _entity(event)
    person = event.actor_type in ("user", "token") and event.actor_id is not None
    return AuditRow(
        at=event.at,
        actor=event.actor_name + (" (API token)" if event.actor_type == "token" else ""),
        actor_href=f"/admin/users/{event.actor_id}" if person else None,
        action=event.action.replace("_", " "),
        entity=entity,
        entity_href=href,
        request_id=(event.request_id or "")[:12],
        changes=changes(event.before, event.after),
    )
