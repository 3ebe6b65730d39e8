"""The `sentinel` command: one entry point composing each part's own commands."""
