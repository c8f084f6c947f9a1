"""The path of a request: dispatch, era rules, routing and forwarding to a service."""
