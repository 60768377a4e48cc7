import sys

from hooks.cli import main

sys.exit(main())
