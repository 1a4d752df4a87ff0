"""WooCommerce in the application: connect flow, webhook upkeep, the inbox handler."""
