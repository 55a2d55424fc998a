"""``python -m cosim`` = the ``cosim`` command."""
import sys

from cosim.cli import main

sys.exit(main())
