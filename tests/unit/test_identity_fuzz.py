"""Whatever a client sends as a token, the gateway answers with a refusal, never a crash."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from typing import Any

import anyio
import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from micro_mcp.config.model import GatewayConfig
from micro_mcp.errors import InsufficientScope, InvalidToken, Unauthenticated
from micro_mcp.gateway.credentials import build_authority
from micro_mcp.identity.authority import Authority
from micro_mcp.identity.introspection import Introspector
from micro_mcp.policy.model import Principal
from tests.fixtures.issuer import mint, new_key, public_jwk

ISSUER = "https://issuer.example"
RESOURCE = "https://gw.example/mcp"
KEY = new_key()
CONFIG = GatewayConfig.model_validate(
    {
        "oauth": {
            "issuer": ISSUER,
            "resource": RESOURCE,
            "jwksUri": f"{ISSUER}/jwks",
            "requiredScopes": ["mcp"],
            "jwksRefreshSeconds": 3600,
        }
    }
)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_claim_names = st.sampled_from(["iss", "aud", "sub", "exp", "nbf", "iat", "scope", "scp", "groups"])


async def _jwks() -> Mapping[str, Any]:
    return {"keys": [public_jwk(KEY, "k1")]}


async def _outcome(token: str) -> Principal | Exception:
    built = build_authority(CONFIG, {})
    authority = Authority(built.static, CONFIG.oauth, built.claim_map, fetch_keys=_jwks)
    try:
        return await authority.authenticate(token)
    except (Unauthenticated, InsufficientScope) as exc:  # InvalidToken is an Unauthenticated
        return exc


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed(claims: Any) -> str:
    """`claims` signed with the issuer's key as they are (PyJWT's encoder would refuse some)."""
    header = _b64(b'{"alg":"RS256","kid":"k1"}')
    signing = f"{header}.{_b64(json.dumps(claims).encode())}"
    signature = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).sign(
        signing.encode(), KEY
    )
    return f"{signing}.{_b64(signature)}"


@settings(database=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(token=st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_any_text_as_a_token_is_refused_cleanly(token: str) -> None:
    assert isinstance(anyio.run(_outcome, token), Unauthenticated)


@settings(database=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(header=st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit"]), _json), body=_json)
def test_any_header_and_payload_with_any_signature_are_refused_cleanly(
    header: dict[str, Any], body: Any
) -> None:
    token = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}.{_b64(b'sig')}"
    assert isinstance(anyio.run(_outcome, token), Unauthenticated)


@settings(database=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(claims=st.dictionaries(_claim_names, _json, max_size=9))
def test_any_claims_signed_by_the_issuer_give_a_principal_or_a_clean_refusal(
    claims: dict[str, Any],
) -> None:
    """Even the issuer's own signature over odd claims (huge or non-finite times, wrong types)
    must not crash the check."""
    outcome = anyio.run(_outcome, _signed(claims))
    assert isinstance(outcome, Principal | Unauthenticated | InsufficientScope)


@pytest.mark.parametrize("exp", [10**400, float("nan"), float("inf"), -(10**400)])
def test_odd_expiry_times_from_the_issuer_are_refused(exp: Any) -> None:
    claims = {"iss": ISSUER, "aud": RESOURCE, "sub": "a", "scope": "mcp", "exp": exp}
    assert isinstance(anyio.run(_outcome, _signed(claims)), InvalidToken)


@settings(database=None, max_examples=200)
@given(answer=st.dictionaries(st.sampled_from(["active", "exp", "iss", "aud", "sub"]), _json))
def test_any_introspection_answer_gives_claims_or_a_clean_refusal(answer: dict[str, Any]) -> None:
    async def post(token: str) -> Mapping[str, Any]:
        return answer

    check = Introspector(post, issuer=ISSUER, audience=RESOURCE, cache_seconds=60, cache_size=4)

    async def outcome() -> object:
        try:
            return await check.introspect("t")
        except InvalidToken as exc:
            return exc

    assert isinstance(anyio.run(outcome), dict | InvalidToken)


def test_a_valid_token_passes_the_same_check() -> None:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": RESOURCE, "sub": "a", "scope": "mcp", "exp": now + 60}
    outcome = anyio.run(_outcome, mint(KEY, "k1", claims))
    assert isinstance(outcome, Principal) and outcome.name == "oauth:a"
    assert jwt.get_unverified_header(mint(KEY, "k1", claims))["kid"] == "k1"
