"""The engine: what to send to whom and when (compose), and sending it exactly once (dispatch)."""
