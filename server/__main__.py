"""``python -m server``: the same as ``pair serve``."""

import sys

from server.serve import main

sys.exit(main())
