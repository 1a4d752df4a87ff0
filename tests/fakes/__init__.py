"""Local HTTP servers that speak the vendors' wire formats (Shopify, WooCommerce, Meta)."""
