"""Entry point of the container image: ``python /app/entrypoint.py``.

Starts Python directly (no shell), so variables such as ``INPUT_API-TOKEN`` reach us intact.
"""

import os
import sys

from cortex_action.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))
