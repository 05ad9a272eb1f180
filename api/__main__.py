"""``python -m api``: the ``meshmill`` command."""

from api.cli import main

main()
