"""`python -m micro_mcp` runs the command line."""

import sys

from micro_mcp.cli.main import main

sys.exit(main())
