"""Unit tests of the pure renderers in ``cortex_action.render``."""
