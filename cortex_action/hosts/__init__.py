"""One adapter per CI host behind one small interface; ``detect`` picks it from the environment."""

from cortex_action.hosts.base import Host
from cortex_action.hosts.detect import detect_host

__all__ = ["Host", "detect_host"]
