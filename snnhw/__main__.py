"""``python -m snnhw``: the command line (also what ``torchrun -m snnhw train ...`` starts)."""

import sys

from .cli import main

sys.exit(main())
