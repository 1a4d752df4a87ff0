"""WooCommerce: the REST API v3 client, key-based connect (auth), mapping to records, the
connector (sync), coupons and webhook signatures."""
