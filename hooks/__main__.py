"""`python -m hooks` and the `hooks` command.

`hooks serve` catches stop signals before the rest of the program is imported (about a
second): a SIGTERM that early still ends in a clean stop and exit status 0.
"""

import sys

from hooks.service.stop_signals import STOP


def main() -> int:
    serving = sys.argv[1:2] == ["serve"]
    if serving:
        STOP.install()
    from hooks.service.cli import main as cli_main

    status = cli_main()
    if serving:
        STOP.ignore_from_now()
    return status


if __name__ == "__main__":
    sys.exit(main())
