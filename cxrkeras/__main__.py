"""``python -m cxrkeras``: the command line."""

import sys

from cxrkeras.cli import main

sys.exit(main())
