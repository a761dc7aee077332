"""``python -m hyper``: the same as the ``hyper`` console script."""

from hyper.cli import main

raise SystemExit(main())
