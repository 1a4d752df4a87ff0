"""WooCommerce: REST API v3 client, key-based connect, sync mapping, webhook signatures."""
