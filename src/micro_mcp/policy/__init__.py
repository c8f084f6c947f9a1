"""Who may call what: principals, their tokens, and allowlist decisions. Pure; no I/O."""
