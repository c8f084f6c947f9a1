"""Policy globs, token authentication and the allow decision."""

from __future__ import annotations

import pytest

from micro_mcp.policy.engine import ANONYMOUS, Authenticator, evaluate, token_digest
from micro_mcp.policy.model import Decision, Policy, Principal

TOKEN_A = "a" * 32
TOKEN_B = "b" * 32


def test_default_policy_allows_everything():
    policy = Policy()
    assert policy.allows("fs.read")
    assert policy.allows("vector.file:///x")


def test_allow_glob_allows_matching_subjects_only():
    policy = Policy(allow=("fs.*", "vector.search"))
    assert policy.allows("fs.read")
    assert policy.allows("vector.search")
    assert not policy.allows("vector.index")
    assert not policy.allows("http.fetch")


def test_deny_wins_over_allow():
    policy = Policy(allow=("fs.*",), deny=("fs.write*",))
    assert policy.allows("fs.read")
    assert not policy.allows("fs.write")
    assert not policy.allows("fs.writeFile")


def test_deny_alone_subtracts_from_the_default_allow_all():
    policy = Policy(deny=("http.*",))
    assert policy.allows("fs.read")
    assert not policy.allows("http.fetch")


def test_empty_allow_list_denies_everything():
    policy = Policy(allow=())
    assert not policy.allows("fs.read")
    assert not policy.allows("")


@pytest.mark.parametrize("subject", ["fsx.a", "fs-evil.x", "fs", "fs_read", "xfs.read"])
def test_namespace_glob_with_dot_does_not_match_other_namespaces(subject):
    assert not Policy(allow=("fs.*",)).allows(subject)


@pytest.mark.parametrize("subject", ["fsx.a", "fs-evil.x", "fs.read"])
def test_glob_without_dot_matches_every_namespace_that_starts_alike(subject):
    # fnmatch's `*` matches any character, so `fs*` is a prefix match across namespaces.
    assert Policy(allow=("fs*",)).allows(subject)


def test_star_matches_dots_and_slashes_in_resource_subjects():
    policy = Policy(allow=("fs.file:*",))
    assert policy.allows("fs.file:///etc/a.b/c.txt")


def test_glob_match_is_anchored_at_both_ends():
    policy = Policy(allow=("fs.read",))
    assert not policy.allows("fs.readAll")
    assert not policy.allows("xfs.read")


def test_glob_match_is_case_sensitive():
    assert not Policy(allow=("fs.*",)).allows("FS.read")


def test_question_mark_and_brackets_follow_fnmatch():
    policy = Policy(allow=("fs.rea?", "v[12].*"))
    assert policy.allows("fs.read")
    assert not policy.allows("fs.reads")
    assert policy.allows("v1.search")
    assert not policy.allows("v3.search")


def test_policies_with_equal_patterns_are_equal_and_hash_alike():
    assert Policy(allow=("fs.*",)) == Policy(allow=("fs.*",))
    assert hash(Policy(allow=("fs.*",))) == hash(Policy(allow=("fs.*",)))


def authenticator() -> tuple[Authenticator, Principal, Principal]:
    default = Principal("default", Policy())
    ci = Principal("ci", Policy(allow=("fs.*",)))
    digests = {"default": (token_digest(TOKEN_A), default), "ci": (token_digest(TOKEN_B), ci)}
    return Authenticator(digests, None), default, ci


def test_right_token_authenticates_its_principal():
    auth, default, ci = authenticator()
    assert auth.authenticate(TOKEN_A) is default
    assert auth.authenticate(TOKEN_B) is ci


@pytest.mark.parametrize(
    "token", [None, "", "c" * 32, TOKEN_A[:-1], TOKEN_A + "a", TOKEN_A.upper(), "é"]
)
def test_wrong_or_missing_token_authenticates_nobody(token):
    auth, _, _ = authenticator()
    assert auth.authenticate(token) is None


def test_without_tokens_every_caller_is_the_open_principal():
    anonymous = Principal(ANONYMOUS, Policy())
    auth = Authenticator({}, anonymous)
    assert auth.authenticate(None) is anonymous
    assert auth.authenticate("anything at all!") is anonymous


def test_evaluate_allows_with_subject_and_reason():
    decision = evaluate(Principal("ci", Policy(allow=("fs.*",))), "fs.read")
    assert decision == Decision(allowed=True, subject="fs.read", reason="allowed")


def test_evaluate_denies_and_names_the_principal_in_the_reason():
    decision = evaluate(Principal("ci", Policy(allow=("fs.*",))), "http.fetch")
    assert decision.allowed is False
    assert decision.subject == "http.fetch"
    assert "'ci'" in decision.reason
