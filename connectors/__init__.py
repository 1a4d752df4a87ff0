"""Platform connectors: each turns one platform's API and webhooks into plain records."""
