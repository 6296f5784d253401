"""``python -m adastft``: the ``adastft`` command."""

import sys

from .cli import main

sys.exit(main())
