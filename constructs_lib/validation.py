"""Construction-time checks with one message shape.

Every check raises :class:`ConfigurationError` (a ``ValueError``) whose message reads
"<parameter> must be <what is allowed>, but <value> was given", so a bad input is reported
at the line that passed it, before anything reaches jsii or Terraform. Values that are
unresolved cdktf tokens are not known until apply time and are skipped.
"""

from __future__ import annotations

import inspect
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any


class ConfigurationError(ValueError):
    """A construct argument is outside what the provider or the API allows."""

    def __init__(self, parameter: str, allowed: str, value: Any) -> None:
        self.parameter = parameter
        self.allowed = allowed
        self.value = value
        super().__init__(f"{parameter} must be {allowed}, but {_show(value)} was given")

    def within(self, prefix: str) -> ConfigurationError:
        """The same error, its parameter named as the caller wrote it (``[dev.queue] ``)."""
        return ConfigurationError(f"{prefix}{self.parameter}", self.allowed, self.value)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value) if value.strip() else f"{value!r} (empty)"
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)
    return f"{value!r} ({type(value).__name__})"


# A string token's text (cdktf/lib/tokens/private/encoding.ts), used only to cut the tokens
# out of a string and check its literal parts: the public way,
# Tokenization.reverse_string(s).literals, fails in jsii (it is typed as IResolvable[] and
# the kernel cannot serialize the strings).
_STRING_TOKEN = re.compile(r"\$\{TfToken\[[a-zA-Z0-9:._-]+\]\}")


def is_token(value: Any) -> bool:
    """True when ``value`` is (or contains) an unresolved token: the framework's own
    ``Token.is_unresolved``, asked only of strings and finite floats (the types a token
    can take here; anything else is a literal, and jsii could not pass it anyway).
    A full synth of stacks/ makes 495 checks: 0.18 s of a 4.2 s synth on cdktf, 0.11 s of
    4.0 s on cdktn (``python -m bench.token_check``), so the framework's private token
    encoding is not decoded here to save them."""
    if isinstance(value, bool) or not isinstance(value, (str, float)):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    from ._framework import Token

    return bool(Token.is_unresolved(value))


def keyword_arguments(constructor: Any, kwargs: dict[str, Any],
                      skip: Iterable[str] = ()) -> dict[str, Any]:
    """``kwargs`` bound to a construct's ``__init__`` with its defaults filled in, without
    calling it (so a composing construct can check its children's arguments first)."""
    bound = inspect.signature(constructor).bind(None, None, None, **kwargs)
    bound.apply_defaults()
    return {key: value for key, value in bound.arguments.items()
            if key not in ("self", "scope", "id_", *skip)}


# --- scalar checks ----------------------------------------------------------------------

def check_number(
    parameter: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_exclusive: bool = False,
    integer: bool = False,
    extra_allowed: Iterable[float] = (),
) -> None:
    """``value`` is a number in [minimum, maximum] (or one of ``extra_allowed``)."""
    if is_token(value) and _issued_number_token(value):
        return
    extra = tuple(extra_allowed)
    if _number_fits(value, minimum, maximum, min_exclusive, integer, extra):
        return
    raise ConfigurationError(
        parameter, _range_text(minimum, maximum, min_exclusive, integer, extra), value)


def _number_fits(value: Any, minimum: float | None, maximum: float | None,
                 min_exclusive: bool, integer: bool, extra: tuple[float, ...]) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if value in extra:
        return True
    if integer and not float(value).is_integer():
        return False
    too_low = minimum is not None and (value <= minimum if min_exclusive else value < minimum)
    too_high = maximum is not None and value > maximum
    return not (too_low or too_high)


def _issued_number_token(value: float) -> bool:
    """A double in cdktf's token range that cdktf really issued (a forged one would fail
    deep inside jsii instead of here)."""
    from ._framework import Tokenization

    try:
        return Tokenization.reverse_number(value) is not None
    except Exception:  # noqa: BLE001 - the kernel refuses an unknown token
        return False


def _range_text(minimum: float | None, maximum: float | None, min_exclusive: bool,
                integer: bool, extra: tuple[float, ...]) -> str:
    kind = "a whole number" if integer else "a number"
    if minimum is not None and maximum is not None:
        low = f"greater than {_num(minimum)}" if min_exclusive else None
        text = (
            f"{kind} {low} and at most {_num(maximum)}"
            if low
            else f"{kind} between {_num(minimum)} and {_num(maximum)}"
        )
    elif minimum is not None:
        text = f"{kind} {'greater than' if min_exclusive else 'of at least'} {_num(minimum)}"
    elif maximum is not None:
        text = f"{kind} of at most {_num(maximum)}"
    else:
        text = kind
    if extra:
        text = " or ".join([_num(e) for e in extra] + [text])
    return text


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def check_string(parameter: str, value: Any, *, pattern: str, allowed: str) -> None:
    """``value`` is a string fully matching ``pattern``; ``allowed`` says it in words. A value
    holding a token is judged at apply time, but its literal parts may not hold white space
    or control characters (no identifier allows them)."""
    if is_token(value):
        literal = _STRING_TOKEN.sub("", value)
        if any(c.isspace() or not c.isprintable() for c in literal):
            raise ConfigurationError(parameter, allowed, value)
        return
    if not isinstance(value, str) or re.fullmatch(pattern, value) is None:
        raise ConfigurationError(parameter, allowed, value)


def check_non_empty(parameter: str, value: Any) -> None:
    """``value`` is a string with visible characters and no surrounding white space."""
    if is_token(value):
        return
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ConfigurationError(
            parameter, "a non-empty string without leading or trailing white space", value
        )


def check_choice(parameter: str, value: Any, choices: Iterable[str]) -> None:
    """``value`` is one of ``choices``."""
    if is_token(value):
        return
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise ConfigurationError(parameter, "one of " + ", ".join(map(repr, options)), value)


def check_bool(parameter: str, value: Any) -> None:
    """``value`` is an explicit True or False (not a truthy string such as "false")."""
    if not isinstance(value, bool):
        raise ConfigurationError(parameter, "True or False", value)


def check_string_map(parameter: str, value: Any, *, key_pattern: str | None = None,
                     key_allowed: str = "", value_pattern: str | None = None,
                     value_allowed: str = "") -> None:
    """``value`` maps non-empty string keys to string values (each matching its pattern)."""
    if not isinstance(value, Mapping):
        raise ConfigurationError(parameter, "a mapping of strings to strings", value)
    for key, item in value.items():
        if not isinstance(key, str) or not key or (
            key_pattern and not is_token(key) and re.fullmatch(key_pattern, key) is None
        ):
            raise ConfigurationError(
                f"{parameter} key", key_allowed or "a non-empty string", key
            )
        if not isinstance(item, str):
            raise ConfigurationError(f"{parameter}[{key!r}]", "a string", item)
        if value_pattern and not is_token(item) and re.fullmatch(value_pattern, item) is None:
            raise ConfigurationError(f"{parameter}[{key!r}]", value_allowed, item)


# --- names and identities ---------------------------------------------------------------

CLOUD_RUN_NAME = r"[a-z]([-a-z0-9]{0,47}[a-z0-9])?"
CLOUD_RUN_NAME_TEXT = (
    "1 to 49 characters of lowercase letters, digits and hyphens, starting with a letter "
    "and not ending with a hyphen"
)
QUEUE_ID = r"[A-Za-z0-9-]{1,100}"
QUEUE_ID_TEXT = "1 to 100 characters of letters, digits and hyphens"
ACCOUNT_ID = r"(?=.{6,30}$)[a-z]([-a-z0-9]*[a-z0-9])"
ACCOUNT_ID_TEXT = (
    "6 to 30 characters of lowercase letters, digits and hyphens, starting with a letter "
    "and not ending with a hyphen"
)
LOCATION = r"[a-z]+(-[a-z]+)*[0-9]+"
LOCATION_TEXT = "a Google Cloud region such as us-central1 or europe-west1"
# Project ids, and the legacy domain-scoped form (example.com:my-project) the APIs still
# accept (terraform-provider-google google/verify/validation.go:34, ProjectRegex).
PROJECT_ID = r"(?:[a-z][-a-z0-9.]*[a-z0-9]:)?[a-z][-a-z0-9]{4,28}[a-z0-9]"
PROJECT_ID_TEXT = (
    "a project id: 6 to 30 lowercase letters, digits and hyphens, starting with a letter "
    "(optionally after a legacy domain prefix such as example.com:)"
)
# Labels (cloud.google.com/resource-manager/docs/labels-overview#requirements): keys and
# values of lowercase letters (international ones too), digits, _ and -, up to 63; a key
# starts with a letter. Checked by character category in check_labels.
LABEL_KEY_TEXT = ("a label key: a lowercase letter, then up to 62 lowercase letters, digits, "
                  "_ or -")
LABEL_VALUE_TEXT = "a label value: up to 63 lowercase letters, digits, _ or -"
INT32_MAX = 2_147_483_647
ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
ENV_NAME_TEXT = "an environment variable name: letters, digits and _, not starting with a digit"

MEMBER_PREFIXES = ("serviceAccount:", "user:", "group:", "domain:", "principal:", "principalSet:")
# Workload Identity members have no @: serviceAccount:PROJECT.svc.id.goog[NAMESPACE/KSA]
# (google/iam/v1/policy.proto, Binding.members).
_WORKLOAD_IDENTITY = re.compile(r"[a-z][-a-z0-9.:]*\.svc\.id\.goog\[[^/\[\]]+/[^/\[\]]+\]")
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
MEMBER_TEXT = (
    "an IAM member of the form serviceAccount:EMAIL, user:EMAIL, group:EMAIL, domain:DOMAIN, "
    "serviceAccount:PROJECT.svc.id.goog[NS/KSA], principal://... or principalSet://... "
    "(allUsers and allAuthenticatedUsers are refused)"
)


def check_member(parameter: str, member: Any) -> None:
    """``member`` names a principal; public principals are never accepted."""
    if is_token(member):
        # Still refuse a literal public member glued to a token.
        if any(public in member for public in PUBLIC_MEMBERS):
            raise ConfigurationError(parameter, MEMBER_TEXT, member)
        return
    if not isinstance(member, str) or member != member.strip():
        raise ConfigurationError(parameter, MEMBER_TEXT, member)
    prefix, _, rest = member.partition(":")
    # Principals are ASCII (e-mails, domains in punycode, principal:// URIs): no white
    # space, no invisible or look-alike characters.
    if f"{prefix}:" not in MEMBER_PREFIXES or re.fullmatch(r"[!-~]+", rest) is None:
        raise ConfigurationError(parameter, MEMBER_TEXT, member)
    if prefix in ("user", "group") and "@" not in rest:
        raise ConfigurationError(parameter, MEMBER_TEXT, member)
    if prefix == "serviceAccount" and "@" not in rest and not _WORKLOAD_IDENTITY.fullmatch(rest):
        raise ConfigurationError(parameter, MEMBER_TEXT, member)
    if prefix in ("principal", "principalSet") and not rest.startswith("//"):
        raise ConfigurationError(parameter, MEMBER_TEXT, member)


def check_members(parameter: str, members: Any) -> tuple[str, ...]:
    """A sequence (not a bare string) of valid members; returns it as a tuple."""
    return _check_list(parameter, members, check_member, "a list of IAM members")


def _check_list(parameter: str, values: Any, check_item: Any, allowed: str) -> tuple[Any, ...]:
    """A sequence that is not a bare string, each item passing ``check_item``; as a tuple."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ConfigurationError(parameter, allowed, values)
    items = tuple(values)
    for index, item in enumerate(items):
        check_item(f"{parameter}[{index}]", item)
    return items


def check_optional_project(parameter: str, value: Any) -> None:
    """None (the provider's project) or a project id."""
    if value is not None:
        check_string(parameter, value, pattern=PROJECT_ID, allowed=PROJECT_ID_TEXT)


def check_optional_text(parameter: str, value: Any) -> None:
    """None or a string (free text such as a description)."""
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(parameter, "a string", value)


def check_strings(parameter: str, values: Any) -> tuple[str, ...]:
    """A sequence (not a bare string) of non-empty strings; returned as a tuple."""
    return _check_list(parameter, values, check_non_empty, "a list of strings")


def check_email(parameter: str, value: Any) -> None:
    """A service account e-mail address (user@domain, no white space)."""
    check_string(parameter, value, pattern=r"[^@\s]+@[^@\s]+\.[^@\s]+",
                 allowed="a service account e-mail address")


def _label_char(char: str) -> bool:
    return unicodedata.category(char) in ("Ll", "Lo", "Nd") or char in "_-"


def check_labels(parameter: str, labels: Any, *, max_count: int, max_chars: int) -> None:
    """A mapping of label keys to values as Google defines them (a token passes)."""
    check_string_map(parameter, labels)
    if len(labels) > max_count:
        raise ConfigurationError(
            parameter, f"at most {max_count} labels (Google allows 64 per resource and the "
                       "provider adds goog-terraform-provisioned)", f"{len(labels)} labels")
    for key, value in labels.items():
        if not is_token(key) and not (
            0 < len(key) <= max_chars and unicodedata.category(key[0]) in ("Ll", "Lo")
            and all(_label_char(c) for c in key)
        ):
            raise ConfigurationError(f"{parameter} key", LABEL_KEY_TEXT, key)
        if not is_token(value) and not (len(value) <= max_chars
                                        and all(_label_char(c) for c in value)):
            raise ConfigurationError(f"{parameter}[{key!r}]", LABEL_VALUE_TEXT, value)


def check_utf8_bytes(parameter: str, value: Any, *, maximum: int) -> None:
    """A string of at most ``maximum`` bytes in UTF-8 (how Google counts these limits)."""
    if isinstance(value, str) and not is_token(value):
        size = len(value.encode("utf-8"))
        if size > maximum:
            raise ConfigurationError(parameter, f"at most {maximum} bytes in UTF-8",
                                     f"{value[:40]}... ({size} bytes)")
