"""``python -m cortex_action``: the same as the ``cortex-action`` command."""

from cortex_action.cli import console_main

if __name__ == "__main__":
    console_main()
