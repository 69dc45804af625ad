"""Tools that reach outside the interpreter: built-in integrations, plugins, credentials."""
