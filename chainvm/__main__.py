"""`python -m chainvm ...`: the same command line as the `chainvm` script."""

import sys

from chainvm.cli.main import main

sys.exit(main())
