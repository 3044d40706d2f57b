"""Small reusable widgets of the terminal UI."""
