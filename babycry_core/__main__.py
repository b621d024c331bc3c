import sys

from babycry_core.cli.main import main

sys.exit(main())
