"""The long-lived runtime and the loading of user code."""
