"""WooCommerce facts in one place: webhook signatures, the order payload (REST API v3
shape), what makes an order acceptable, and the REST client used for sync back and backfill.

See /docs/runbook.md (storefront) and the WooCommerce sources cited in
shared/data/woocommerce/WEBHOOKS.md: the signature is base64(HMAC-SHA256(secret, raw body));
the creation ping is `webhook_id=N`, form-encoded, unsigned, and only a 200 counts; a
webhook body has the shape of GET /wp-json/wc/v3/orders/<id>.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

PING_BODY = re.compile(rb"^webhook_id=\d{1,20}$")
ORDER_TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
STATUSES = (
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "trash",
    "checkout-draft",
)
CLOSED_STATUSES = ("cancelled", "refunded", "failed", "trash")
KEPT_HEADERS = (
    "x-wc-webhook-source",
    "x-wc-webhook-topic",
    "x-wc-webhook-resource",
    "x-wc-webhook-event",
    "x-wc-webhook-id",
    "x-wc-webhook-delivery-id",
    "user-agent",
    "content-type",
)
_CURRENCY_CODES = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL "
    "BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP "
    "ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR "
    "IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL "
    "LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR "
    "NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD "
    "SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH "
    "UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL "
)
ISO_4217 = frozenset(_CURRENCY_CODES.split())
CENT = Decimal("0.01")
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


# --- webhook signature ----------------------------------------------------------------


# wp_specialchars_decode( $text, ENT_QUOTES ) (wp-includes/formatting.php), step by step:
# first zero-padded numeric entities are normalised (the preg_replace list, in its order),
# then ONE strtr pass replaces the listed entities, longest match first, never re-reading
# its output (`&amp;lt;` -> `&lt;`). Named entities beyond these five (`&copy;`) and other
# numeric ones stay as they are, as in WordPress.
_WP_NUMERIC = (
    (re.compile(r"&#0*39;"), "&#039;"),
    (re.compile(r"&#x0*27;", re.IGNORECASE), "&#x27;"),
    (re.compile(r"&#0*34;"), "&#034;"),
    (re.compile(r"&#x0*22;", re.IGNORECASE), "&#x22;"),
    (re.compile(r"&#0*60;"), "&#060;"),
    (re.compile(r"&#0*62;"), "&#062;"),
    (re.compile(r"&#0*38;"), "&#038;"),
    (re.compile(r"&#x0*26;", re.IGNORECASE), "&#x26;"),
)
_WP_ENTITIES = {
    "&#039;": "'",
    "&#x27;": "'",
    "&quot;": '"',
    "&#034;": '"',
    "&#x22;": '"',
    "&lt;": "<",
    "&#060;": "<",
    "&gt;": ">",
    "&#062;": ">",
    "&amp;": "&",
    "&#038;": "&",
    "&#x26;": "&",
}
_WP_STRTR = re.compile("|".join(re.escape(k) for k in sorted(_WP_ENTITIES, key=len, reverse=True)))


def wp_specialchars_decode(text: str) -> str:
    """WordPress's `wp_specialchars_decode($text, ENT_QUOTES)`, exactly."""
    if "&" not in text:
        return text
    for pattern, replacement in _WP_NUMERIC:
        text = pattern.sub(replacement, text)
    return _WP_STRTR.sub(lambda match: _WP_ENTITIES[match.group(0)], text)


def signature(secret: str, body: bytes) -> str:
    """X-WC-Webhook-Signature for `body` as `WC_Webhook::generate_signature` makes it:
    base64 of the raw HMAC-SHA256 keyed with `wp_specialchars_decode($secret, ENT_QUOTES)`
    (a secret holding `&amp;` is signed with `&`)."""
    key = wp_specialchars_decode(secret).encode()
    digest = hmac.new(key, body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_valid(secret: str, body: bytes, sent: str | None) -> bool:
    if not sent:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), sent.strip().encode())


def is_ping(body: bytes, headers: Mapping[str, str]) -> bool:
    """The request WooCommerce sends when a webhook is created: `webhook_id=N`, unsigned."""
    return "x-wc-webhook-signature" not in headers and bool(PING_BODY.match(body.strip()))


# --- the delivery key -----------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryKey:
    """What identifies one version of one order: the order id and its modification time
    (a redelivery of the same version has the same key; the delivery id is not unique)."""

    external_id: str
    dedupe_key: str
    modified_at: datetime
    status: str | None


def parse_time(value: object) -> datetime | None:
    """A WooCommerce *_gmt timestamp ("2017-03-22T19:28:08", UTC, no zone) as aware UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def delivery_key(
    payload: Mapping[str, Any], *, topic: str | None, delivery_id: str | None, body: bytes
) -> DeliveryKey | None:
    """The key of an order payload, or None when it has no usable order id."""
    order_id = payload.get("id")
    if isinstance(order_id, bool) or not isinstance(order_id, int) or order_id <= 0:
        return None
    status = payload.get("status")
    modified_raw = payload.get("date_modified_gmt")
    modified = parse_time(modified_raw)
    if topic == "order.deleted" or modified is None:
        # {"id": N} only: a deletion has no version; the delivery (or body) identifies it.
        marker = delivery_id or hashlib.sha256(body).hexdigest()
        event = (topic or "order").removeprefix("order.")
        return DeliveryKey(
            external_id=str(order_id),
            dedupe_key=f"{event}:{marker}"[:200],
            modified_at=datetime.now(UTC),
            status="trash" if topic == "order.deleted" else _status(status),
        )
    return DeliveryKey(
        external_id=str(order_id),
        dedupe_key=str(modified_raw)[:200],
        modified_at=modified,
        status=_status(status),
    )


def _status(value: object) -> str | None:
    return value[:20] if isinstance(value, str) else None


# --- the order ------------------------------------------------------------------------


@dataclass
class WebLine:
    index: int
    external_line_id: str | None
    key: str  # the SKU, or product:<id> / variation:<id> when the SKU is empty
    name: str
    qty: int
    unit_price: Decimal  # net of discounts, excluding tax: total / quantity
    list_unit_price: Decimal  # before discounts: subtotal / quantity


@dataclass
class WebOrder:
    external_id: str
    number: str
    status: str
    currency: str
    created_at: datetime | None
    modified_at: datetime | None
    customer_name: str
    email: str | None
    phone: str | None
    company: str | None
    billing: dict[str, Any]
    shipping: dict[str, Any]
    note: str
    lines: list[WebLine] = field(default_factory=list)


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    line: int | None = None
    sku: str | None = None

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.line is not None:
            found["line"] = self.line
        if self.sku is not None:
            found["sku"] = self.sku
        return found


def line_key(item: Mapping[str, Any]) -> str:
    """How a line finds its part: the SKU, else the product (or variation) id."""
    sku = item.get("sku")
    if isinstance(sku, str) and sku.strip():
        return sku.strip()[:100]
    variation = item.get("variation_id")
    if isinstance(variation, int) and variation > 0:
        return f"variation:{variation}"
    return f"product:{item.get('product_id')}"


def money(value: object) -> Decimal | None:
    """A WooCommerce money value ("12.00", 12, 3.5) as Decimal; None when unusable."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _text(value: object, limit: int = 200) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def parse_order(
    payload: Mapping[str, Any],
    *,
    now: datetime,
    currencies: frozenset[str] | None = None,
    lines_required: bool = True,
) -> tuple[WebOrder | None, list[Reason]]:
    """Read an order payload and check everything that needs no database: customer and
    billing data, positive whole quantities, line and order totals consistent within
    rounding, a known currency, a sane date. Returns the order and every reason it is not
    acceptable (the order is None only when it is unreadable)."""
    reasons: list[Reason] = []
    order_id = payload.get("id")
    if isinstance(order_id, bool) or not isinstance(order_id, int) or order_id <= 0:
        return None, [Reason("no_order_id", "The payload has no positive integer order id.")]
    status = payload.get("status")
    if status not in STATUSES:
        reasons.append(Reason("unknown_status", f"Unknown order status {status!r}."))
    currency = _text(payload.get("currency"), 3).upper()
    allowed = currencies or ISO_4217
    if currency not in ISO_4217 or currency not in allowed:
        reasons.append(
            Reason("unknown_currency", f"Currency {currency or '(none)'} is not accepted.")
        )
    created = parse_time(payload.get("date_created_gmt")) or parse_time(payload.get("date_created"))
    if created is None:
        reasons.append(Reason("bad_date", "The order has no readable creation date."))
    elif created > now + timedelta(days=1) or created < EARLIEST:
        reasons.append(Reason("bad_date", f"Creation date {created.isoformat()} is not plausible."))

    raw_billing, raw_shipping = payload.get("billing"), payload.get("shipping")
    billing: dict[str, Any] = raw_billing if isinstance(raw_billing, dict) else {}
    shipping: dict[str, Any] = raw_shipping if isinstance(raw_shipping, dict) else {}
    name = " ".join(
        part for part in (_text(billing.get("first_name")), _text(billing.get("last_name"))) if part
    )
    email = _text(billing.get("email"), 254) or None
    company = _text(billing.get("company")) or None
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+", email):
        reasons.append(Reason("bad_email", f"Billing e-mail {email!r} is not an address."))
    if not billing:
        reasons.append(Reason("no_billing", "The order has no billing data."))
    elif not (name or company or email):
        reasons.append(Reason("no_customer", "Billing has no name, company or e-mail."))

    order = WebOrder(
        external_id=str(order_id),
        number=_text(payload.get("number"), 40) or str(order_id),
        status=str(status) if isinstance(status, str) else "",
        currency=currency,
        created_at=created,
        modified_at=parse_time(payload.get("date_modified_gmt")),
        customer_name=name or company or (email or "Web customer"),
        email=email,
        phone=_text(billing.get("phone"), 50) or None,
        company=company,
        billing=dict(billing),
        shipping=dict(shipping),
        note=_text(payload.get("customer_note"), 2000),
    )
    items = payload.get("line_items")
    if not isinstance(items, list) or not items:
        if lines_required:
            reasons.append(Reason("no_lines", "The order has no line items."))
        return order, reasons
    line_sum = Decimal(0)
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            reasons.append(Reason("bad_line", f"Line {index} is not an object.", line=index))
            continue
        line, line_reasons = _parse_line(index, item)
        reasons += line_reasons
        total = money(item.get("total"))
        if total is not None:
            line_sum += total
        if line is not None:
            order.lines.append(line)
    reasons += _check_order_total(payload, line_sum)
    return order, reasons


def _parse_line(index: int, item: Mapping[str, Any]) -> tuple[WebLine | None, list[Reason]]:
    reasons: list[Reason] = []
    key = line_key(item)
    name = _text(item.get("name"), 300)
    qty_raw = item.get("quantity")
    qty: int | None = None
    if isinstance(qty_raw, bool) or not isinstance(qty_raw, int | float):
        reasons.append(Reason("bad_quantity", f"Line {index} has no quantity.", index, key))
    elif isinstance(qty_raw, float) and not qty_raw.is_integer():
        reasons.append(
            Reason(
                "bad_quantity",
                f"Line {index} ({key}) has a fractional quantity {qty_raw}.",
                index,
                key,
            )
        )
    elif not 0 < qty_raw <= 1_000_000_000:
        reasons.append(
            Reason("bad_quantity", f"Line {index} ({key}) has quantity {qty_raw}.", index, key)
        )
    else:
        qty = int(qty_raw)
    total = money(item.get("total"))
    subtotal = money(item.get("subtotal"))
    if total is None or total < 0 or subtotal is None or subtotal < 0:
        reasons.append(
            Reason("bad_line_total", f"Line {index} ({key}) has no usable total.", index, key)
        )
        return None, reasons
    price = money(item.get("price"))
    if qty is not None and price is not None and abs(price * qty - total) > CENT * max(qty, 1):
        reasons.append(
            Reason(
                "line_total_mismatch",
                f"Line {index} ({key}): {qty} x {price} is not the line total {total}.",
                index,
                key,
            )
        )
    if qty is None:
        return None, reasons
    return (
        WebLine(
            index=index,
            external_line_id=str(item.get("id")) if item.get("id") is not None else None,
            key=key,
            name=name,
            qty=qty,
            unit_price=(total / qty).quantize(Decimal("0.0001")),
            list_unit_price=(subtotal / qty).quantize(Decimal("0.0001")),
        ),
        reasons,
    )


def _sum_of(payload: Mapping[str, Any], key: str, amount_key: str = "total") -> Decimal:
    found = Decimal(0)
    entries = payload.get(key)
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict):
                found += money(entry.get(amount_key)) or Decimal(0)
    return found


def _check_order_total(payload: Mapping[str, Any], line_sum: Decimal) -> list[Reason]:
    """total = line totals (after discounts, before tax) + fees + shipping + all tax."""
    total = money(payload.get("total"))
    if total is None:
        return [Reason("bad_total", "The order has no usable total.")]
    shipping_total = money(payload.get("shipping_total")) or Decimal(0)
    tax = money(payload.get("total_tax")) or Decimal(0)
    fees = _sum_of(payload, "fee_lines")
    reasons = []
    shipping_lines = _sum_of(payload, "shipping_lines")
    if (
        isinstance(payload.get("shipping_lines"), list)
        and abs(shipping_lines - shipping_total) > CENT
    ):
        reasons.append(
            Reason(
                "shipping_total_mismatch",
                f"Shipping lines add up to {shipping_lines}, shipping_total says {shipping_total}.",
            )
        )
    expected = line_sum + fees + shipping_total + tax
    items = payload.get("line_items")
    tolerance = CENT * (len(items) + 2 if isinstance(items, list) else 2)
    if abs(expected - total) > tolerance:
        reasons.append(
            Reason(
                "total_mismatch",
                f"Lines {line_sum} + fees {fees} + shipping {shipping_total} + tax {tax} = "
                f"{expected}, but the order total is {total}.",
            )
        )
    return reasons


def price_reason(line: WebLine, list_price: Decimal | None, tolerance: float) -> Reason | None:
    """A line whose undiscounted unit price strays from the part's list price by more than
    `tolerance` (a fraction: 0.25 = 25 %) is suspicious (a wrong mapping, a typo)."""
    if list_price is None or list_price <= 0:
        return None
    deviation = abs(line.list_unit_price - list_price) / list_price
    if deviation <= Decimal(str(tolerance)):
        return None
    return Reason(
        "price_out_of_tolerance",
        f"Line {line.index} ({line.key}): unit price {line.list_unit_price} is "
        f"{deviation:.0%} away from the list price {list_price}.",
        line.index,
        line.key,
    )


# A WooCommerce order is 4 levels deep (order > line_items > meta_data > value); 64 leaves
# room for any plugin's metadata and none for a nesting bomb.
MAX_JSON_DEPTH = 64


class PayloadError(ValueError):
    """The body cannot be an order: not JSON, not an object, or nested absurdly deep."""


def load_json(body: bytes | str) -> Any:
    """`json.loads` that never raises RecursionError: nesting deeper than MAX_JSON_DEPTH is
    a PayloadError (a ValueError), like any other malformed body."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise PayloadError(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("the body is not a JSON object") from None
    if _depth_exceeds(value, MAX_JSON_DEPTH):
        raise PayloadError(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    # Iterative on purpose: the point is not to recurse on hostile input.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_payload(body: bytes) -> dict[str, Any]:
    """The delivery's JSON object; PayloadError saying why when it is none."""
    value = load_json(body)
    if not isinstance(value, dict):
        raise PayloadError("the body is not a JSON object")
    return value


def decode_payload(body: bytes) -> dict[str, Any] | None:
    try:
        return parse_payload(body)
    except PayloadError:
        return None


# --- the REST API ---------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    base_url: str
    consumer_key: str
    consumer_secret: str


class StoreApiError(Exception):
    """The store's REST API refused or failed; `retryable` when trying later may help."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = True):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


def _auth(
    credentials: Credentials, method: str, url: str, params: Mapping[str, str] | None
) -> tuple[str, httpx.BasicAuth | None]:
    """HTTP Basic over HTTPS; one-legged OAuth 1.0a (HMAC-SHA1, signature in the query)
    over plain HTTP, where WooCommerce refuses Basic auth. Authlib's signature functions are
    used directly: its OAuth1 client refuses plain HTTP, which is exactly WooCommerce's case."""
    query = dict(params or {})
    if url.startswith("https://"):
        full = str(httpx.URL(url, params=query))
        return full, httpx.BasicAuth(credentials.consumer_key, credentials.consumer_secret)
    from authlib.common.security import generate_token
    from authlib.oauth1.rfc5849.signature import construct_base_string, hmac_sha1_signature

    oauth = {
        "oauth_consumer_key": credentials.consumer_key,
        "oauth_nonce": generate_token(32),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(int(time.time())),
    }
    signed_params = [*query.items(), *oauth.items()]
    base = construct_base_string(method.upper(), url, signed_params)
    oauth["oauth_signature"] = hmac_sha1_signature(base, credentials.consumer_secret, None)
    return str(httpx.URL(url, params={**query, **oauth})), None


async def _call(
    client: httpx.AsyncClient,
    credentials: Credentials,
    method: str,
    path: str,
    *,
    params: Mapping[str, str] | None = None,
    body: Any = None,
) -> httpx.Response:
    url = credentials.base_url.rstrip("/") + path
    signed, basic = _auth(credentials, method, url, params)
    try:
        response = await client.request(
            method,
            signed,
            json=body,
            headers={"accept": "application/json"},
            auth=basic if basic is not None else httpx.USE_CLIENT_DEFAULT,
        )
    except httpx.TimeoutException as exc:
        raise StoreApiError(f"{method} {path}: the store did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise StoreApiError(f"{method} {path}: {type(exc).__name__}") from exc
    if response.status_code >= 400:
        retryable = response.status_code in (408, 409, 425, 429) or response.status_code >= 500
        raise StoreApiError(
            f"{method} {path}: HTTP {response.status_code} {response.text[:200]}",
            status=response.status_code,
            retryable=retryable,
        )
    return response


async def update_order_status(
    client: httpx.AsyncClient,
    credentials: Credentials,
    *,
    order_id: str,
    status: str | None,
    note: str | None,
    customer_note: bool = False,
    meta_data: list[dict[str, Any]] | None = None,
) -> None:
    """PUT /wp-json/wc/v3/orders/<id> {"status": ..., "meta_data": ...} (when there is
    either), then add the note (POST .../orders/<id>/notes; a customer note is mailed to
    the buyer). Both are safe to repeat: the status and meta are set, not added."""
    update: dict[str, Any] = {}
    if status:
        update["status"] = status
    if meta_data:
        update["meta_data"] = meta_data
    if update:
        await _call(client, credentials, "PUT", f"/wp-json/wc/v3/orders/{order_id}", body=update)
    if note:
        await _call(
            client,
            credentials,
            "POST",
            f"/wp-json/wc/v3/orders/{order_id}/notes",
            body={"note": note, "customer_note": customer_note},
        )


async def list_orders(
    client: httpx.AsyncClient,
    credentials: Credentials,
    *,
    modified_after: datetime,
    page: int,
    per_page: int = 100,
) -> tuple[list[tuple[dict[str, Any], bytes]], int]:
    """One page of GET /wp-json/wc/v3/orders modified after a time (GMT), oldest first,
    as (order, its JSON) pairs, and the page count (X-WP-TotalPages)."""
    response = await _call(
        client,
        credentials,
        "GET",
        "/wp-json/wc/v3/orders",
        params={
            "modified_after": modified_after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "dates_are_gmt": "true",
            "orderby": "modified",
            "order": "asc",
            "per_page": str(per_page),
            "page": str(page),
        },
    )
    try:
        orders = response.json()
    except ValueError as exc:
        raise StoreApiError("GET orders: the answer is not JSON", retryable=False) from exc
    if not isinstance(orders, list):
        raise StoreApiError("GET orders: the answer is not a list", retryable=False)
    pages = int(response.headers.get("x-wp-totalpages", "1") or 1)
    found = [
        (order, json.dumps(order, ensure_ascii=False, separators=(",", ":")).encode())
        for order in orders
        if isinstance(order, dict)
    ]
    return found, pages


async def list_refunds(
    client: httpx.AsyncClient, credentials: Credentials, *, order_id: str, max_pages: int = 20
) -> list[dict[str, Any]]:
    """Every refund of an order: GET /wp-json/wc/v3/orders/<id>/refunds, a page of 100 at a
    time (X-WP-TotalPages), oldest and newest alike. Refund line items carry a negative
    `quantity` and `total` and name the order line in their `_refunded_item_id` meta."""
    found: list[dict[str, Any]] = []
    page, pages = 1, 1
    while page <= min(pages, max_pages):
        response = await _call(
            client,
            credentials,
            "GET",
            f"/wp-json/wc/v3/orders/{order_id}/refunds",
            params={"per_page": "100", "page": str(page)},
        )
        try:
            refunds = response.json()
        except ValueError as exc:
            raise StoreApiError("GET refunds: the answer is not JSON", retryable=False) from exc
        if not isinstance(refunds, list):
            raise StoreApiError("GET refunds: the answer is not a list", retryable=False)
        found += [refund for refund in refunds if isinstance(refund, dict)]
        try:
            pages = int(response.headers.get("x-wp-totalpages", "1") or 1)
        except ValueError:
            pages = 1
        page += 1
    return found
