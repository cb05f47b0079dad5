"""Sample app for the Cloud Tasks to Cloud Run pattern: the worker service and the enqueuer."""
