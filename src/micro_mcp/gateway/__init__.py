"""The gateway proper: client sessions, the dispatcher, the relay to services, the fronts."""
