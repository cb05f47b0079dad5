"""CKV_TASKS_1: no public member (allUsers / allAuthenticatedUsers) on a Cloud Run v2
service's IAM: a public run.invoker makes the worker callable by anyone, bypassing the
queue's OIDC token (google_cloud_run_v2_service_iam_member / _binding / _policy)."""

from ckv_tasks_support import NoPublicMemberCheck

check = NoPublicMemberCheck(
    id="CKV_TASKS_1",
    name="Ensure no Cloud Run v2 service IAM grant (run.invoker or other) goes to "
    "allUsers or allAuthenticatedUsers",
    resource_prefix="google_cloud_run_v2_service",
    what="the Cloud Run v2 service",
)
