"""Web-store connectors (WooCommerce): webhook intake, staging, the worker, sync back."""
