"""The audit trail: one record per call and per reply, to a sink."""
