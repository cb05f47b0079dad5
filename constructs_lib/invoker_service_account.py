"""InvokerServiceAccount: the identity whose OIDC token Cloud Tasks presents to Cloud Run."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from . import defaults, limits
from ._framework import (
    ITerraformDependable,
    ServiceAccount,
    ServiceAccountIamMember,
    newer_provider_fields,
)
from .policy import PolicyCheck
from .service_account import ACT_AS_ROLE, ActAsGrants, ImportedServiceAccount
from .validation import (
    ACCOUNT_ID,
    ACCOUNT_ID_TEXT,
    check_non_empty,
    check_optional_project,
    check_optional_text,
    check_string,
    check_utf8_bytes,
)

__all__ = ["ACT_AS_ROLE", "InvokerServiceAccount"]


class InvokerServiceAccount(ActAsGrants, Construct):
    """One ``google_service_account`` used only to sign Cloud Tasks' OIDC tokens.

    It gets no project roles. The pattern grants it ``roles/run.invoker`` on one service;
    whoever creates tasks carrying its token needs :meth:`grant_act_as`. An account that
    already exists: :meth:`from_email`.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        account_id: str,
        display_name: str | None = None,
        description: str | None = None,
        project: str | None = None,
        depends_on: Sequence[ITerraformDependable] = (),
    ) -> None:
        """
        :param account_id: the account id (the part before ``@``), 6 to 30 characters.
        :param display_name: shown in the console, at most 100 bytes. Default: the account id.
        :param description: free text, at most 256 bytes. Default: none.
        :param project: project to create the account in. Default: the provider's project.
        :param depends_on: resources to create first (such as the APIs). Default: none.
        """
        check_string("account_id", account_id, pattern=ACCOUNT_ID, allowed=ACCOUNT_ID_TEXT)
        if display_name is not None:
            check_non_empty("display_name", display_name)
            check_utf8_bytes("display_name", display_name,
                             maximum=limits.DISPLAY_NAME_MAX_BYTES)
        check_optional_text("description", description)
        check_utf8_bytes("description", description, maximum=limits.DESCRIPTION_MAX_BYTES)
        check_optional_project("project", project)
        super().__init__(scope, id_)
        self.resource = ServiceAccount(
            self,
            "account",
            account_id=account_id,
            display_name=display_name or account_id,
            description=description,
            project=project,
            depends_on=list(depends_on) or None,
            **newer_provider_fields(deletion_policy=defaults.DELETION_POLICY),
        )
        self._act_as: dict[str, ServiceAccountIamMember] = {}
        PolicyCheck.apply_to(self)  # every stack using the library is checked at synth

    @staticmethod
    def from_email(scope: Construct, id_: str, *, email: str) -> ImportedServiceAccount:
        """An existing account as a reference: ``email``, ``member`` and ``grant_act_as``,
        grantable like a created one; nothing is created."""
        return ImportedServiceAccount(scope, id_, email=email)

    @property
    def email(self) -> str:
        """The account's e-mail address (a token until apply)."""
        return self.resource.email

    @property
    def member(self) -> str:
        """The account as an IAM member: ``serviceAccount:EMAIL``."""
        return self.resource.member

    @property
    def name(self) -> str:
        """The account's resource name: ``projects/P/serviceAccounts/EMAIL``."""
        return self.resource.name
