"""The services behind the gateway: supervision, their catalog, and what they send."""
