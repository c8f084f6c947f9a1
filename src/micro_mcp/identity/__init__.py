"""Who a bearer token belongs to: the gateway as an OAuth 2.1 resource server.

    authority.py      Authority: static tokens, JWTs and introspection behind one `authenticate`
    keys.py           KeySet: the issuer's JWKS, fetched, cached and refreshed within bounds
    verifier.py       JwtVerifier: signature, algorithm, issuer, audience, lifetime
    introspection.py  Introspector: RFC 7662 for opaque tokens, with a small bounded cache
    claims.py         ClaimMap: claims -> Principal (name, groups, scopes, policy)
    metadata.py       RFC 9728 protected-resource metadata and `WWW-Authenticate` challenges

This package does I/O (the issuer's keys, introspection) and sits beside registry and audit:
above `policy`, whose `Principal` it builds, and below `gateway`, whose HTTP guard calls it.
"""
