"""The WhatsApp channel: Meta's Cloud API, or a dry run that records instead of sending."""
