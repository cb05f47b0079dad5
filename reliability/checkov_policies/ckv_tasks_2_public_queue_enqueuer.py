"""CKV_TASKS_2: no public member on a Cloud Tasks queue's IAM: a public
cloudtasks.enqueuer lets anyone push work (and cost) into the queue
(google_cloud_tasks_queue_iam_member / _binding / _policy)."""

from ckv_tasks_support import NoPublicMemberCheck

check = NoPublicMemberCheck(
    id="CKV_TASKS_2",
    name="Ensure no Cloud Tasks queue IAM grant (cloudtasks.enqueuer or other) goes to "
    "allUsers or allAuthenticatedUsers",
    resource_prefix="google_cloud_tasks_queue",
    what="the Cloud Tasks queue",
)
