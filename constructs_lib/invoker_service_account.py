"""InvokerServiceAccount: the identity whose OIDC token Cloud Tasks presents to Cloud Run."""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import ITerraformDependable
from cdktf_cdktf_provider_google.service_account import ServiceAccount
from cdktf_cdktf_provider_google.service_account_iam_member import (
    ServiceAccountIamMember,
)
from constructs import Construct

from . import limits
from .ids import member_identity, stable_id
from .policy import PolicyCheck
from .validation import (
    ACCOUNT_ID,
    ACCOUNT_ID_TEXT,
    check_member,
    check_non_empty,
    check_optional_project,
    check_optional_text,
    check_string,
    check_utf8_bytes,
)

ACT_AS_ROLE = "roles/iam.serviceAccountUser"


class InvokerServiceAccount(Construct):
    """One ``google_service_account`` used only to sign Cloud Tasks' OIDC tokens.

    It gets no project roles. The pattern grants it ``roles/run.invoker`` on one service;
    whoever creates tasks carrying its token needs :meth:`grant_act_as`.
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
        :param display_name: shown in the console. Default: the account id.
        :param description: free text. Default: none.
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
        )
        self._act_as: dict[str, ServiceAccountIamMember] = {}
        PolicyCheck.apply_to(self)  # every stack using the library is checked at synth

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

    def grant_act_as(self, member: str) -> ServiceAccountIamMember:
        """Let ``member`` act as this account (``roles/iam.serviceAccountUser``, on this
        account only, additive). Needed by anyone who creates tasks carrying its token."""
        check_member("member", member)
        key = member_identity(self, member)
        if key not in self._act_as:
            # The id is derived from role and member: other grants keep their addresses.
            self._act_as[key] = ServiceAccountIamMember(
                self,
                stable_id(self, "act-as", ACT_AS_ROLE, key),
                service_account_id=self.resource.name,
                role=ACT_AS_ROLE,
                member=member,
            )
        return self._act_as[key]
