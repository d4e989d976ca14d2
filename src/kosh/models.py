"""Every feature's tables, imported in one place for Alembic and the tests."""

from kosh.alerts import models as alert_models
from kosh.auth import models as auth_models
from kosh.bom import models as bom_models
from kosh.catalog import models as catalog_models
from kosh.core import models as core_models
from kosh.documents import models as document_models
from kosh.locations import models as location_models
from kosh.ops import models as ops_models
from kosh.production import models as production_models
from kosh.purchasing import models as purchasing_models
from kosh.quality import models as quality_models
from kosh.sales import models as sales_models
from kosh.shopfloor import models as shopfloor_models
from kosh.stock import models as stock_models
from kosh.storefront import models as storefront_models

__all__ = [
    "alert_models",
    "auth_models",
    "bom_models",
    "catalog_models",
    "core_models",
    "document_models",
    "location_models",
    "ops_models",
    "production_models",
    "purchasing_models",
    "quality_models",
    "sales_models",
    "shopfloor_models",
    "stock_models",
    "storefront_models",
]
