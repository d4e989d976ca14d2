"""Store credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from
KOSH_SECRET_KEY by HKDF, so the database alone never reveals a webhook secret or an API key.

Each secret may instead come from the environment, which wins over the stored value:
KOSH_STORE_<CODE>_WEBHOOK_SECRET, KOSH_STORE_<CODE>_CONSUMER_KEY,
KOSH_STORE_<CODE>_CONSUMER_SECRET (CODE upper-cased, '-' and '.' as '_').
Changing KOSH_SECRET_KEY makes stored secrets unreadable: enter them again (runbook).
"""

from __future__ import annotations

import base64
import os
import re
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kosh.core.config import Settings

_INFO = b"kosh/storefront/credentials/v1"


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(settings: Settings, value: str) -> str:
    return _fernet(settings.secret_key.get_secret_value()).encrypt(value.encode()).decode()


class SecretUnreadableError(Exception):
    """A stored secret cannot be decrypted (KOSH_SECRET_KEY changed)."""


def decrypt(settings: Settings, token: str) -> str:
    try:
        return _fernet(settings.secret_key.get_secret_value()).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadableError(
            "a stored store credential cannot be decrypted; was KOSH_SECRET_KEY changed?"
        ) from exc


def env_name(store_code: str, what: str) -> str:
    return f"KOSH_STORE_{re.sub(r'[^A-Za-z0-9]', '_', store_code).upper()}_{what.upper()}"


def resolve(settings: Settings, store_code: str, what: str, stored: str | None) -> str | None:
    """The secret `what` (webhook_secret, consumer_key, consumer_secret) of a store: from
    the environment when set there, else the decrypted stored value, else None."""
    from_env = os.environ.get(env_name(store_code, what))
    if from_env:
        return from_env
    if not stored:
        return None
    return decrypt(settings, stored)
