"""``python -m aitrace``."""

import sys

from aitrace.cli import main

sys.exit(main())
