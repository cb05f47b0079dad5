"""``python -m app.enqueue``: see app/enqueue/cli.py."""

from app.enqueue.cli import main

raise SystemExit(main())
