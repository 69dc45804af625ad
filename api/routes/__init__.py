"""The HTTP routes, one module per resource: each parses a request, calls api/services and answers with api/presenters."""
