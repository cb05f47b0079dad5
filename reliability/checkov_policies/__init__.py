"""Custom checkov checks (CKV_TASKS_*) for the resources checkov's built-in set does not cover.

checkov loads every ``.py`` file here with ``--external-checks-dir`` (it needs this
``__init__.py`` to do so) and runs them on ``cdk.tf.json`` with the ``terraform_json``
framework. They import checkov, so they only import inside checkov's own virtualenv
(``.venv-checkov``): nothing in the project imports them. ``reliability/checkov_scan.py``
runs them and fails when none of them produced a result.
"""
