"""The identity package in memory: keys, JWT checks, claims, introspection, metadata, authority."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from micro_mcp import codes
from micro_mcp.config.model import GatewayConfig
from micro_mcp.errors import (
    ConfigError,
    InsufficientScope,
    InvalidToken,
    Unauthenticated,
    UpstreamUnavailable,
)
from micro_mcp.gateway.credentials import build_authority
from micro_mcp.identity import metadata
from micro_mcp.identity.authority import Authority
from micro_mcp.identity.claims import ClaimMap, Grant
from micro_mcp.identity.introspection import Introspector
from micro_mcp.identity.keys import KeySet, parse
from micro_mcp.identity.verifier import JwtVerifier
from micro_mcp.policy.engine import token_digest
from micro_mcp.policy.model import Policy
from tests.fixtures.issuer import mint, new_key, public_jwk

pytestmark = pytest.mark.anyio

ISSUER = "https://issuer.example"
RESOURCE = "https://gw.example/mcp"
KEY = new_key()
OTHER_KEY = new_key()
JWKS = {"keys": [public_jwk(KEY, "k1")]}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": RESOURCE,
        "sub": "alice",
        "iat": now,
        "exp": now + 300,
        **overrides,
    }


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Issuer:
    """An in-memory JWKS endpoint that counts its fetches and can be held up."""

    def __init__(self, document: Mapping[str, Any] = JWKS) -> None:
        self.document = document
        self.fetches = 0
        self.release: anyio.Event | None = None
        self.fetching = anyio.Event()

    async def __call__(self) -> Mapping[str, Any]:
        self.fetches += 1
        self.fetching.set()
        if self.release is not None:
            await self.release.wait()
        return self.document


def verifier(keys: KeySet, clock: Clock | None = None) -> JwtVerifier:
    return JwtVerifier(
        keys,
        issuer=ISSUER,
        audience=RESOURCE,
        algorithms=("RS256", "ES256"),
        leeway=30,
        clock=clock or time.time,
    )


def unsigned(payload: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


# --- the key set --------------------------------------------------------------------------------


async def test_a_valid_token_is_verified_with_one_fetch_of_the_keys() -> None:
    issuer = Issuer()
    check = verifier(KeySet(issuer, refresh_interval=30, timeout=5))
    for _ in range(3):
        assert (await check.verify(mint(KEY, "k1", claims())))["sub"] == "alice"
    assert issuer.fetches == 1


async def test_a_flood_of_unknown_kids_fetches_the_keys_once_per_interval() -> None:
    issuer, clock = Issuer(), Clock(1000.0)
    keys = KeySet(issuer, refresh_interval=30, timeout=5, clock=clock)
    check = verifier(keys)
    for n in range(100):
        with pytest.raises(InvalidToken, match="unknown signing key"):
            await check.verify(mint(OTHER_KEY, f"made-up-{n}", claims()))
    assert issuer.fetches == 1
    clock.now += 30
    with pytest.raises(InvalidToken, match="unknown signing key"):
        await check.verify(mint(OTHER_KEY, "made-up-again", claims()))
    assert issuer.fetches == 2


async def test_a_rotated_key_is_fetched_when_a_token_names_it() -> None:
    issuer, clock = Issuer(), Clock(1000.0)
    check = verifier(KeySet(issuer, refresh_interval=30, timeout=5, clock=clock))
    await check.verify(mint(KEY, "k1", claims()))
    issuer.document = {"keys": [public_jwk(KEY, "k1"), public_jwk(OTHER_KEY, "k2")]}
    clock.now += 30
    assert (await check.verify(mint(OTHER_KEY, "k2", claims())))["sub"] == "alice"
    assert issuer.fetches == 2


async def test_a_hung_key_fetch_does_not_stall_tokens_of_known_keys() -> None:
    issuer, clock = Issuer(), Clock(1000.0)
    keys = KeySet(issuer, refresh_interval=0, timeout=60, clock=clock)
    check = verifier(keys)
    await check.verify(mint(KEY, "k1", claims()))
    issuer.release = anyio.Event()
    issuer.fetching = anyio.Event()
    outcome: list[str] = []

    async def unknown() -> None:
        with pytest.raises(InvalidToken):
            await check.verify(mint(OTHER_KEY, "k9", claims()))
        outcome.append("unknown refused")

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(unknown)
            await issuer.fetching.wait()  # the fetch for k9 now hangs
            assert (await check.verify(mint(KEY, "k1", claims())))["sub"] == "alice"
            outcome.append("known verified")
            issuer.release.set()
    assert outcome == ["known verified", "unknown refused"]


async def test_a_key_fetch_past_its_timeout_refuses_the_token_and_keeps_the_keys() -> None:
    issuer = Issuer()
    keys = KeySet(issuer, refresh_interval=0, timeout=0.01)
    check = verifier(keys)
    await check.verify(mint(KEY, "k1", claims()))
    issuer.release = anyio.Event()  # never set: every fetch from now on hangs
    with anyio.fail_after(5), pytest.raises(InvalidToken, match="unknown signing key"):
        await check.verify(mint(OTHER_KEY, "k9", claims()))
    assert (await check.verify(mint(KEY, "k1", claims())))["sub"] == "alice"


async def test_a_failing_key_fetch_keeps_the_keys_held() -> None:
    issuer = Issuer()
    keys = KeySet(issuer, refresh_interval=0, timeout=5)
    await keys.refresh()

    async def broken() -> Mapping[str, Any]:
        raise OSError("connection refused")

    keys_after = KeySet(broken, refresh_interval=0, timeout=5)
    await keys_after.refresh()
    assert keys.known("k1") is not None and keys_after.known("k1") is None
    issuer.document = {"nope": 1}
    await keys.refresh()
    assert keys.known("k1") is not None


def test_encryption_keys_and_junk_entries_are_skipped() -> None:
    document = {
        "keys": [
            {**public_jwk(KEY, "enc"), "use": "enc"},
            {"kty": "RSA", "kid": "junk", "n": "!!", "e": "AQAB"},
            "not a key",
            public_jwk(KEY, "k1"),
        ]
    }
    assert set(parse(document)) == {"k1"}
    with pytest.raises(ValueError, match="no 'keys'"):
        parse({"keys": "nope"})


# --- each bad token -----------------------------------------------------------------------------


def hs256_with_the_public_key() -> str:
    pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # PyJWT refuses to HMAC with a PEM key; the forgery is made by hand, as an attacker would.
    import hashlib
    import hmac

    header = base64.urlsafe_b64encode(b'{"alg":"HS256","kid":"k1","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    signature = hmac.new(pem, header + b"." + body, hashlib.sha256).digest()
    return b".".join([header, body, base64.urlsafe_b64encode(signature).rstrip(b"=")]).decode()


BAD_TOKENS: list[tuple[str, Any, str]] = [
    ("malformed", lambda: "not.a.jwt", "malformed token"),
    ("garbage", lambda: "%%%.@@@.###", "malformed token"),
    ("expired", lambda: mint(KEY, "k1", claims(exp=int(time.time()) - 120)), "expired"),
    ("not yet valid", lambda: mint(KEY, "k1", claims(nbf=int(time.time()) + 600)), "not valid yet"),
    ("wrong audience", lambda: mint(KEY, "k1", claims(aud="https://other/mcp")), "audience"),
    ("wrong issuer", lambda: mint(KEY, "k1", claims(iss="https://evil.example")), "issuer"),
    (
        "no expiry",
        lambda: mint(KEY, "k1", {k: v for k, v in claims().items() if k != "exp"}),
        "'exp'",
    ),
    ("alg none", lambda: unsigned(claims(), {"alg": "none", "kid": "k1"}), "alg none"),
    ("HS256 with the public key", hs256_with_the_public_key, "HMAC-signed"),
    ("unknown kid", lambda: mint(OTHER_KEY, "k2", claims()), "unknown signing key"),
    ("forged signature", lambda: mint(OTHER_KEY, "k1", claims()), "signature"),
    ("exp not a number", lambda: mint(KEY, "k1", claims(exp="soon")), "exp"),
    (
        "ES256 header on an RSA key",
        lambda: mint(ec.generate_private_key(ec.SECP256R1()), "k1", claims(), "ES256"),
        "not for algorithm",
    ),
]


@pytest.mark.parametrize(("case", "make", "reason"), BAD_TOKENS, ids=[c for c, _, _ in BAD_TOKENS])
async def test_each_bad_token_is_refused_with_its_reason(case: str, make: Any, reason: str) -> None:
    check = verifier(KeySet(Issuer(), refresh_interval=30, timeout=5))
    with pytest.raises(InvalidToken, match=reason) as caught:
        await check.verify(make())
    assert caught.value.code == codes.UNAUTHENTICATED


async def test_a_token_replayed_after_its_expiry_is_refused() -> None:
    clock = Clock(time.time())
    check = verifier(KeySet(Issuer(), refresh_interval=30, timeout=5), clock)
    token = mint(KEY, "k1", claims(exp=int(clock.now) + 60))
    assert (await check.verify(token))["sub"] == "alice"
    clock.now += 60 + 29  # within the leeway of 30 s
    assert (await check.verify(token))["sub"] == "alice"
    clock.now += 1
    with pytest.raises(InvalidToken, match="expired"):
        await check.verify(token)


async def test_a_key_withdrawn_by_the_issuer_takes_its_verified_tokens_along() -> None:
    issuer = Issuer({"keys": [public_jwk(KEY, "k1"), public_jwk(OTHER_KEY, "k2")]})
    keys = KeySet(issuer, refresh_interval=0, timeout=5)
    check = verifier(keys)
    token = mint(OTHER_KEY, "k2", claims())
    assert (await check.verify(token))["sub"] == "alice"
    assert (await check.verify(token))["sub"] == "alice"  # from the cache
    issuer.document = JWKS  # k2 withdrawn
    await keys.refresh()
    with pytest.raises(InvalidToken, match="unknown signing key"):
        await check.verify(token)


async def test_a_refetched_key_set_that_did_not_change_keeps_the_cache() -> None:
    issuer = Issuer()
    keys = KeySet(issuer, refresh_interval=0, timeout=5)
    await keys.refresh()
    generation = keys.generation
    await keys.refresh()
    assert keys.generation == generation and issuer.fetches == 2


# --- claims -> principals -----------------------------------------------------------------------

ADMIN, READER, NOBODY = Policy(("*",)), Policy(("fs.read*",)), Policy(())
CLAIM_MAP = ClaimMap(
    "sub",
    "groups",
    ("scope", "scp"),
    (
        Grant("subject", "root", ADMIN),
        Grant("group", "ops", ADMIN),
        Grant("scope", "fs:read", READER),
    ),
    NOBODY,
)


@pytest.mark.parametrize(
    ("token_claims", "policy", "groups", "scopes"),
    [
        ({"sub": "root"}, ADMIN, set(), set()),
        ({"sub": "bob", "groups": ["dev", "ops"]}, ADMIN, {"dev", "ops"}, set()),
        ({"sub": "bob", "groups": "dev ops"}, ADMIN, {"dev", "ops"}, set()),
        ({"sub": "bob", "scope": "fs:read mcp"}, READER, set(), {"fs:read", "mcp"}),
        ({"sub": "bob", "scp": ["fs:read"]}, READER, set(), {"fs:read"}),
        ({"sub": "bob", "scope": "mcp"}, NOBODY, set(), {"mcp"}),
    ],
)
def test_claims_map_to_a_principal_and_the_first_matching_grant(
    token_claims: dict[str, Any], policy: Policy, groups: set[str], scopes: set[str]
) -> None:
    principal = CLAIM_MAP.principal(token_claims)
    assert principal.name == f"oauth:{token_claims['sub']}"
    assert principal.policy is policy
    assert principal.groups == groups and principal.scopes == scopes


@pytest.mark.parametrize(
    "token_claims",
    [{}, {"sub": 7}, {"sub": ""}, {"sub": "a", "groups": [1]}, {"sub": "a", "scope": {"x": 1}}],
)
def test_claims_that_do_not_name_a_caller_or_list_oddly_are_refused(
    token_claims: dict[str, Any],
) -> None:
    with pytest.raises(InvalidToken):
        CLAIM_MAP.principal(token_claims)


# --- introspection ------------------------------------------------------------------------------


class Endpoint:
    """An in-memory introspection endpoint."""

    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        self.answers = answers
        self.calls = 0

    async def __call__(self, token: str) -> Mapping[str, Any]:
        self.calls += 1
        return self.answers.get(token, {"active": False})


def introspector(endpoint: Endpoint, clock: Clock, size: int = 2) -> Introspector:
    return Introspector(
        endpoint, issuer=ISSUER, audience=RESOURCE, cache_seconds=60, cache_size=size, clock=clock
    )


async def test_an_active_answer_is_cached_briefly_and_never_past_exp() -> None:
    clock = Clock(1000.0)
    endpoint = Endpoint({"t": {"active": True, "sub": "bob", "exp": 1030, "aud": RESOURCE}})
    check = introspector(endpoint, clock)
    assert (await check.introspect("t"))["sub"] == "bob"
    assert (await check.introspect("t"))["sub"] == "bob"
    assert endpoint.calls == 1
    clock.now = 1030
    with pytest.raises(InvalidToken, match="expired"):
        await check.introspect("t")
    assert endpoint.calls == 2


async def test_the_introspection_cache_is_bounded_and_inactive_answers_are_not_kept() -> None:
    clock = Clock(1000.0)
    active = {"active": True, "sub": "x"}
    endpoint = Endpoint({"a": active, "b": active, "c": active})
    check = introspector(endpoint, clock, size=2)
    for token in ("a", "b", "c", "a"):
        await check.introspect(token)
    assert endpoint.calls == 4  # "a" fell out when "c" came
    for _ in range(2):
        with pytest.raises(InvalidToken, match="not active"):
            await check.introspect("revoked")
    assert endpoint.calls == 6


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"active": True, "sub": "x", "aud": "https://other"}, "audience"),
        ({"active": True, "sub": "x", "iss": "https://evil"}, "issuer"),
        ({"active": "yes", "sub": "x"}, "not active"),
    ],
)
async def test_introspected_tokens_for_elsewhere_are_refused(
    answer: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidToken, match=reason):
        await introspector(Endpoint({"t": answer}), Clock(1000.0)).introspect("t")


# --- metadata -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "url"),
    [
        ("https://gw.example/mcp", "https://gw.example/.well-known/oauth-protected-resource/mcp"),
        ("https://gw.example/", "https://gw.example/.well-known/oauth-protected-resource"),
        (
            "http://127.0.0.1:8/a/mcp",
            "http://127.0.0.1:8/.well-known/oauth-protected-resource/a/mcp",
        ),
    ],
)
def test_the_metadata_url_inserts_the_well_known_path_before_the_resource_path(
    resource: str, url: str
) -> None:
    assert metadata.metadata_url(resource) == url


def test_a_challenge_quotes_what_it_carries_safely() -> None:
    value = metadata.challenge(
        "https://gw/.well-known/oauth-protected-resource/mcp",
        error="invalid_token",
        description='bad "token" \\ é',
    )
    assert value == (
        b'Bearer realm="micro-mcp", '
        b'resource_metadata="https://gw/.well-known/oauth-protected-resource/mcp", '
        b'error="invalid_token", error_description="bad ?token? ? ?"'
    )


# --- the authority: static tokens beside OAuth --------------------------------------------------


def oauth_config(**extra: Any) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "tokenSha256": token_digest("static-token-0123456789").hex(),
            "principals": {"reader": {"policy": {"allow": ["fs.read*"]}}},
            "oauth": {
                "issuer": ISSUER,
                "resource": RESOURCE,
                "jwksUri": f"{ISSUER}/jwks",
                "principals": [{"scope": "fs:read", "principal": "reader"}],
                **extra,
            },
        }
    )


def authority(config: GatewayConfig) -> Authority:
    built = build_authority(config, {})
    return Authority(
        built.static, config.oauth, built.claim_map, fetch_keys=Issuer(), introspect=Endpoint({})
    )


async def test_static_tokens_and_jwts_both_authenticate() -> None:
    gate = authority(oauth_config())
    assert (await gate.authenticate("static-token-0123456789")).name == "default"
    token = mint(KEY, "k1", claims(scope="fs:read"))
    principal = await gate.authenticate(token)
    assert principal.name == "oauth:alice"
    assert principal.policy.allows("fs.readFile") and not principal.policy.allows("fs.write")


async def test_missing_oversized_and_unknown_tokens_are_refused_apart() -> None:
    gate = authority(oauth_config(maxTokenBytes=1024))
    with pytest.raises(Unauthenticated) as missing:
        await gate.authenticate(None)
    assert not isinstance(missing.value, InvalidToken)
    with pytest.raises(InvalidToken, match="over 1024 bytes"):
        await gate.authenticate("a" * 1025)
    with pytest.raises(InvalidToken, match="not a JWT"):
        await gate.authenticate("some-opaque-token")


async def test_a_token_without_the_required_scopes_names_them() -> None:
    gate = authority(oauth_config(requiredScopes=["mcp:use"]))
    with pytest.raises(InsufficientScope) as caught:
        await gate.authenticate(mint(KEY, "k1", claims(scope="fs:read")))
    assert caught.value.scopes == ("mcp:use",)
    assert (await gate.authenticate(mint(KEY, "k1", claims(scope="mcp:use")))).scopes == {"mcp:use"}


async def test_opaque_tokens_go_to_introspection_when_configured() -> None:
    config = oauth_config(
        introspection={"endpoint": f"{ISSUER}/introspect", "clientId": "gw", "clientSecretEnv": "S"}
    )
    built = build_authority(config, {"S": "secret"})
    endpoint = Endpoint({"opaque-1": {"active": True, "sub": "carol", "aud": RESOURCE}})
    gate = Authority(built.static, config.oauth, built.claim_map, introspect=endpoint)
    assert (await gate.authenticate("opaque-1")).name == "oauth:carol"
    with pytest.raises(InvalidToken, match="not active"):
        await gate.authenticate("opaque-2")


async def test_introspection_that_cannot_run_is_unavailable_not_a_crash() -> None:
    config = oauth_config(
        introspection={"endpoint": f"{ISSUER}/introspect", "clientId": "gw", "clientSecretEnv": "S"}
    )
    built = build_authority(config, {"S": "secret"})  # its HTTP client is not running
    with pytest.raises(UpstreamUnavailable):
        await built.authenticate("opaque-1")


# --- static tokens: hashes, files, environment ------------------------------------------------


async def test_static_tokens_come_from_a_hash_a_file_or_the_environment(tmp_path: Path) -> None:
    (tmp_path / "ci.token").write_text("file-token-0123456789\n")
    config = GatewayConfig.model_validate(
        {
            "tokenSha256": token_digest("hashed-token-0123456789").hex().upper(),
            "principals": {
                "ci": {"tokenFile": str(tmp_path / "ci.token")},
                "ops": {"tokenEnv": "OPS_TOKEN"},
            },
        }
    )
    gate = build_authority(config, {"OPS_TOKEN": "env-token-0123456789"})
    for token, name in [
        ("hashed-token-0123456789", "default"),
        ("file-token-0123456789", "ci"),
        ("env-token-0123456789", "ops"),
    ]:
        assert (await gate.authenticate(token)).name == name
    with pytest.raises(InvalidToken):
        await gate.authenticate("file-token-0123456789\n")


@pytest.mark.parametrize(
    ("data", "environ", "message"),
    [
        ({"tokenEnv": "NOPE"}, {}, "$NOPE is unset or empty"),
        ({"tokenFile": "/nonexistent/token"}, {}, "cannot read /nonexistent/token"),
        ({"tokenEnv": "T"}, {"T": "short"}, "under 16 characters"),
        (
            {"tokenEnv": "T", "principals": {"b": {"tokenEnv": "U"}}},
            {"T": "same-token-0123456789", "U": "same-token-0123456789"},
            "share a token",
        ),
    ],
)
def test_a_token_source_that_fails_stops_start_up_clearly(
    data: dict[str, Any], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("$", r"\$")):
        build_authority(GatewayConfig.model_validate(data), environ)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"token": "x" * 16, "tokenEnv": "T"}, "at most one of token, tokenEnv"),
        ({"tokenSha256": "abc"}, "tokenSha256"),
        ({"oauth": {"issuer": ISSUER, "resource": RESOURCE}}, "jwksUri"),
        (
            {
                "oauth": {
                    "issuer": ISSUER,
                    "resource": RESOURCE,
                    "jwksUri": ISSUER,
                    "algorithms": ["HS256"],
                }
            },
            "never accepted",
        ),
        (
            {
                "oauth": {
                    "issuer": ISSUER,
                    "resource": RESOURCE,
                    "jwksUri": ISSUER,
                    "algorithms": ["none"],
                }
            },
            "never accepted",
        ),
        (
            {
                "oauth": {
                    "issuer": ISSUER,
                    "resource": RESOURCE,
                    "jwksUri": ISSUER,
                    "principals": [{"group": "g", "principal": "ghost"}],
                }
            },
            "no principal 'ghost'",
        ),
    ],
)
def test_bad_oauth_and_token_settings_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GatewayConfig.model_validate(data)
