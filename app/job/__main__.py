"""``python -m app.job``: see app/job/main.py."""

from app.job.main import main

raise SystemExit(main())
