"""Guardrails: checks on the text of calls' arguments, results and tool definitions.

Pure and synchronous, like `policy`: a `Detector` finds spans of text (`Finding`), and the
`Pipeline` runs the configured checks in order over a payload's strings, redacting, blocking or
flagging what they find, within a size bound. Running it off the event loop, with a deadline,
and reporting what it did (metrics, audit, errors) is the gateway's part (`gateway/core/guard.py`).
"""
