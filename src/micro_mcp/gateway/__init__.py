"""The gateway proper, one room per step of a request: `fronts` (where clients connect),
`core` (dispatch, policy, relay), `services` (supervision, catalog, notifications), `clients`
(what is known of each client), `operator` (metrics and status), and `serve` putting them
together."""
