"""Message templates: ShopNudge's defaults (wording: the text per purpose and language), the
shop's catalog of them at Meta (submitted, synced, the approved one chosen for a send), their review
status from Meta's webhooks (status), and templates the owner writes (authoring).
"""
