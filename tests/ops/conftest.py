from tests.support.platform import scratch_database_url

__all__ = ["scratch_database_url"]
