"""The library's local token check agrees with cdktf's own Token.is_unresolved."""

import pytest

from constructs_lib._framework import cdk
from constructs_lib.validation import is_token


def values():
    string_token = cdk.Fn.lower("X")
    number_token = cdk.Token.as_number(cdk.Fn.tonumber("5"))
    return [
        string_token, f"prefix-{string_token}-suffix", number_token,
        cdk.Token.as_string(cdk.Fn.tonumber("7")),
        "plain", "", "${var.not_a_cdktf_token}", "${TfToken[", 0, 1, -1, 1.5, 500.0,
        -1.8881545897087626e+289, 1e300, 2**53, -0.0,
    ]


@pytest.mark.parametrize("index", range(17))
def test_local_check_matches_cdktf(index):
    value = values()[index]
    assert is_token(value) == cdk.Token.is_unresolved(value), repr(value)


def test_tokens_are_recognised_and_literals_are_not():
    string_token = cdk.Fn.lower("X")
    assert is_token(string_token) and is_token(cdk.Token.as_number(string_token))
    assert not is_token("worker") and not is_token(600) and not is_token(True)
    assert not is_token(float("nan")) and not is_token(float("inf"))
