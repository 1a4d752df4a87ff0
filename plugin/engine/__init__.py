"""The engine: what to send to whom and when (compose), and sending it exactly once (dispatch).

Compose: reminders and recommend/ draft messages; guards rule on them, reading only the facts
preload loads (holdout and localtime are rules they use); outbox writes the rows once per
dedupe key. Dispatch: dispatch is a worker's loop (`Dispatcher`) that claims due rows, judges
them again with the facts batch loads, and records each `Outcome`; claims moves a row through
its states; sending keeps the calls to Meta in flight. salutation is who a message greets,
attribution credits orders to messages, jobs lists the engine's periodic jobs.
"""
