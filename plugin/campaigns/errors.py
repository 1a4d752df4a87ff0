"""The one error an owner's campaign request can end in, shared by every step they take.

The CLI, the JSON API and the pages catch this alone, whichever step refused, and show its
message (a page also places it by its `reason`).
"""

from __future__ import annotations


class CampaignError(ValueError):
    """The owner asked for something a campaign cannot do; the message says what.

    `reason` names the rule that was broken, so a page can say it in the owner's language
    beside the field it concerns (the CLI and the API show the message).
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
