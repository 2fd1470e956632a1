"""One module per wire protocol the sandbox speaks."""
