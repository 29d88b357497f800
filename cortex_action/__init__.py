"""cortex-action: drive Cortex Workflow runs from CI/CD."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cortex-action")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
