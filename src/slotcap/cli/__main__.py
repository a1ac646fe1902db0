"""``python -m slotcap.cli``: the same as the ``slotcap`` console script."""

import sys

from slotcap.cli.main import main

sys.exit(main())
