"""What a Cloud Run service and a Cloud Run job share about the account they run as: the
choice between a given and a dedicated account, and the secrets it may read."""

from __future__ import annotations

from collections.abc import Mapping

from constructs import Construct

from . import defaults
from ._framework import SecretManagerSecretIamMember
from .ids import stable_id
from .options import SecretEnv
from .service_account import ServiceAccountLike
from .validation import ACCOUNT_ID, ACCOUNT_ID_TEXT, ConfigurationError, check_string, is_token


def check_runtime_account(service_account: ServiceAccountLike | None,
                          runtime_account_id: str | None, derived_id: str) -> None:
    """A given account (never a default one, never with an id to create), or the id of
    the dedicated account to create."""
    if service_account is None:
        check_string("runtime_account_id", runtime_account_id or derived_id,
                     pattern=ACCOUNT_ID, allowed=ACCOUNT_ID_TEXT)
        return
    if not isinstance(service_account, ServiceAccountLike):
        raise ConfigurationError(
            "service_account", "an account (InvokerServiceAccount, or "
            "InvokerServiceAccount.from_email(...))", service_account)
    if runtime_account_id is not None:
        raise ConfigurationError("runtime_account_id",
                                 "left unset when service_account is given", runtime_account_id)
    email = service_account.email
    if not is_token(email) and email.endswith("-compute@developer.gserviceaccount.com"):
        raise ConfigurationError(
            "service_account", "a dedicated service account, not the default compute account",
            email)


def grant_secret_access(scope: Construct, secret_env: Mapping[str, SecretEnv], member: str,
                        project: str | None) -> list[SecretManagerSecretIamMember]:
    """``roles/secretmanager.secretAccessor`` for ``member`` on each secret the environment
    reads (once per secret), and on nothing else."""
    grants = []
    for secret in dict.fromkeys(ref.secret for ref in secret_env.values()):
        secret_project = secret.split("/")[1] if secret.startswith("projects/") else project
        grants.append(SecretManagerSecretIamMember(
            scope, stable_id(scope, "secret-access", defaults.SECRET_ACCESSOR_ROLE, secret),
            secret_id=secret.rsplit("/", 1)[-1], project=secret_project,
            role=defaults.SECRET_ACCESSOR_ROLE, member=member))
    return grants
