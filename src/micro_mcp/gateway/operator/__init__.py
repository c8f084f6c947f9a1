"""The operator's view: metrics, status, and the admin page."""
