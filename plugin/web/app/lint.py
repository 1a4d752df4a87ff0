"""Opt-in wording lint, behind one import: the consent package's rules when present.

Each message has a level ("error" blocks saving, "warning" does not), a code and a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugin.models import Store

#: Words that tell a buyer how to stop, in the shipped languages.
OPT_OUT_HINTS = ("stop", "stopp", "abmelden", "unsubscribe", "widerruf", "abbestellen")


@dataclass(frozen=True)
class LintMessage:
    level: str
    code: str
    message: str


def local_lint_wording(text: str, store: Store) -> list[LintMessage]:
    """Business name, the word WhatsApp and an opt-out hint must be in the wording."""
    folded = (text or "").casefold()
    if not folded.strip():
        return [LintMessage("error", "empty", "The wording is empty.")]
    messages = []
    if not store.name or store.name.casefold() not in folded:
        messages.append(
            LintMessage(
                "error",
                "business_missing",
                f"The wording must name the business as buyers know it ({store.name!r}).",
            )
        )
    if "whatsapp" not in folded:
        messages.append(
            LintMessage("error", "channel_missing", 'The wording must name the channel "WhatsApp".')
        )
    if not any(hint in folded for hint in OPT_OUT_HINTS):
        messages.append(
            LintMessage(
                "warning",
                "opt_out_hint_missing",
                "Tell buyers how to stop, e.g. 'reply STOP' (Meta's opt-in policy expects it).",
            )
        )
    return messages


try:
    from plugin.consent.wording import lint_wording  # type: ignore[attr-defined]
except ImportError:  # the consent package without lint: use the same rules here
    lint_wording = local_lint_wording
