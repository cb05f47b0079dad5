"""The sample application: worker, enqueuer, job entrypoint, emulators, demo, image."""
