"""The qbank Textual app (`qbank tui`): thin screens over the `qbank` services."""
