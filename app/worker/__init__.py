"""Cloud Run worker that receives Cloud Tasks HTTP tasks (``uvicorn app.worker.main:app``).

Handlers for your own task kinds register on :data:`app.worker.handlers.registry` and raise
:class:`~app.worker.errors.TransientError` or :class:`~app.worker.errors.PermanentError` to
tell the worker whether Cloud Tasks should retry.
"""
