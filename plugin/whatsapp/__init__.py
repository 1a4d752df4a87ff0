"""The WhatsApp channel: Meta's Cloud API, or a dry run that records instead of sending.

Out: client (the only module that knows Meta's wire format) over multiplex (the calls in
flight, from one thread), channel (what dispatch needs),
routing, parameters, uploads; errors (every error code and what we do), pricing and rate_cards,
limits (throughput held across processes). In: routes, webhooks, then inbound (buyers'
messages), statuses (delivery and cost) and identity (which buyer). accounts is a shop's number
and its jobs; templates/ the message templates.
"""
