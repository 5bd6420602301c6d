"""`python -m stepgrad.app.cli`: the `stepgrad` command."""

import sys

from stepgrad.app.cli.main import main

sys.exit(main())
