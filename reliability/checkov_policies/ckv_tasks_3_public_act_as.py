"""CKV_TASKS_3: no public member on a service account's IAM: a public
iam.serviceAccountUser (actAs) or serviceAccountTokenCreator on the invoker account lets
anyone create tasks, or mint tokens, that the worker accepts as the invoker. Any role is
refused: no role on a service account is meant for everyone
(google_service_account_iam_member / _binding / _policy)."""

from ckv_tasks_support import NoPublicMemberCheck

check = NoPublicMemberCheck(
    id="CKV_TASKS_3",
    name="Ensure no service account IAM grant (serviceAccountUser, TokenCreator or other) "
    "goes to allUsers or allAuthenticatedUsers",
    resource_prefix="google_service_account",
    what="the service account",
)
