"""Service accounts the constructs use, created or existing, grantable the same way.

:class:`ImportedServiceAccount` is an account that already exists, known by its e-mail: it
declares nothing, and ``grant_act_as`` on it works exactly as on a created
:class:`~constructs_lib.InvokerServiceAccount`. Anything with ``email``, ``member``,
``name`` and ``grant_act_as`` (:class:`ServiceAccountLike`) can run a service or sign tasks.
"""

from __future__ import annotations

import re
from typing import Protocol, runtime_checkable

from constructs import Construct

from ._framework import ServiceAccountIamMember
from .ids import member_identity, stable_id
from .validation import ConfigurationError, check_member, is_token

ACT_AS_ROLE = "roles/iam.serviceAccountUser"
# What google_service_account_iam_member accepts as service_account_id's e-mail part
# (terraform-provider-google v6.50.0 google/verify/validation.go:62-82): a created account,
# or a Google default account.
ACCOUNT_EMAIL = re.compile(
    r"(?P<id>[a-z]([-a-z0-9]{4,28}[a-z0-9])?)@(?P<project>[-a-z0-9.:]{1,63})"
    r"\.iam\.gserviceaccount\.com"
    r"|[0-9]+-compute@developer\.gserviceaccount\.com"
    r"|(?P<appspot>[-a-z0-9.:]{1,63})@appspot\.gserviceaccount\.com")
ACCOUNT_EMAIL_TEXT = "a service account e-mail such as name@project.iam.gserviceaccount.com"


@runtime_checkable
class ServiceAccountLike(Protocol):
    """What a construct needs of an account: its e-mail, its IAM member and resource name,
    and a way to let others act as it."""

    @property
    def email(self) -> str: ...

    @property
    def member(self) -> str: ...

    @property
    def name(self) -> str: ...

    def grant_act_as(self, member: str) -> ServiceAccountIamMember: ...


class ActAsGrants:
    """``grant_act_as`` for a construct that knows its account's resource name."""

    _act_as: dict[str, ServiceAccountIamMember]

    @property
    def name(self) -> str:
        """The account's resource name (each account construct defines it)."""
        raise NotImplementedError

    def grant_act_as(self, member: str) -> ServiceAccountIamMember:
        """Let ``member`` act as this account (``roles/iam.serviceAccountUser``, on this
        account only, additive). Needed by anyone who creates tasks carrying its token."""
        check_member("member", member)
        assert isinstance(self, Construct)
        key = member_identity(self, member)
        if key not in self._act_as:
            # The id is derived from role and member: other grants keep their addresses.
            self._act_as[key] = ServiceAccountIamMember(
                self, stable_id(self, "act-as", ACT_AS_ROLE, key),
                service_account_id=self.name, role=ACT_AS_ROLE, member=member)
        return self._act_as[key]


class ImportedServiceAccount(ActAsGrants, Construct):
    """An existing service account, by e-mail. Declares nothing itself."""

    def __init__(self, scope: Construct, id_: str, *, email: str) -> None:
        """
        :param email: the account's e-mail, ``NAME@PROJECT.iam.gserviceaccount.com`` (or a
            token that resolves to one).
        """
        project = "-"
        if not is_token(email):
            match = ACCOUNT_EMAIL.fullmatch(email) if isinstance(email, str) else None
            if match is None:
                raise ConfigurationError("email", ACCOUNT_EMAIL_TEXT, email)
            project = match.group("project") or match.group("appspot") or "-"
        super().__init__(scope, id_)
        self._email = email
        self._project = project
        self._act_as = {}

    @property
    def email(self) -> str:
        return self._email

    @property
    def member(self) -> str:
        """``serviceAccount:EMAIL``."""
        return f"serviceAccount:{self._email}"

    @property
    def name(self) -> str:
        """``projects/PROJECT/serviceAccounts/EMAIL`` (``-`` when the project is unknown)."""
        return f"projects/{self._project}/serviceAccounts/{self._email}"

    @property
    def project(self) -> str | None:
        """The project named in the e-mail, if any."""
        return None if self._project == "-" else self._project


def check_invoker(invoker: object, invoker_account_id: str | None, project: str) -> None:
    """An existing invoker: an account, not also an id to create, in the queue's project
    (Cloud Tasks signs tokens only for accounts of the queue's project)."""
    if not isinstance(invoker, ServiceAccountLike):
        raise ConfigurationError(
            "invoker", "an account (InvokerServiceAccount, or "
            "InvokerServiceAccount.from_email(...))", invoker)
    if invoker_account_id is not None:
        raise ConfigurationError("invoker_account_id", "left unset when invoker is given",
                                 invoker_account_id)
    if (isinstance(invoker, ImportedServiceAccount) and invoker.project is not None
            and not is_token(project) and invoker.project != project):
        raise ConfigurationError(
            "invoker", f"an account of the queue's project {project!r} (Cloud Tasks only "
            "signs tokens for accounts in the queue's project)", invoker.email)
