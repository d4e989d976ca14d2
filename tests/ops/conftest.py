from tests.storefront.conftest import _fake_store_server, drain, fake_store, shop, worker_settings
from tests.support.platform import scratch_database_url

__all__ = [
    "_fake_store_server",
    "drain",
    "fake_store",
    "scratch_database_url",
    "shop",
    "worker_settings",
]
