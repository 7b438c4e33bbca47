"""The admin pages, one module per page group; each view decodes the request, calls one use case, renders."""
