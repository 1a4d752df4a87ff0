"""The shapes of the JSON bodies we accept and answer, declared once as JSON Schema 2020-12.

One module per resource (opt-ins, carts, webhooks, the owner's API, campaigns, errors,
health), built from the pieces in `base`. The views validate with `validation.first_problem`
(jsonschema), and `plugin.web.openapi` publishes the same dicts as the request and response
schemas of `GET /openapi.json`, so the contract and the checks cannot drift apart.
"""
