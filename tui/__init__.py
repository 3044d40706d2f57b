"""The Textual terminal UI (``millrace.tui``), imported only when the UI opens."""
