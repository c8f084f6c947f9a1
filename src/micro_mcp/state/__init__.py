"""State that gateway replicas share: one small key-value `Store` protocol (with pub/sub
channels for what one replica must tell another), kept in this process's memory (the default:
one replica, nothing to connect to) or in Redis (`state.redis` in the config), which every
replica of a deployment names.

    store.py         the `Store` protocol and `MemoryStore`
    redis_store.py   `RedisStore` (redis-py's asyncio client) and `open_store`, from the config

What lives in it is the gateway's business (consent approvals and spent nonces, task owners,
the key that seals consent states, handshake-era session records); this package knows only
keys, bytes, lifetimes and channels.
"""
