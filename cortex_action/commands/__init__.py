"""One module per command: ``run`` (trigger and follow), and the shared pieces they use."""
