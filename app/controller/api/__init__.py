"""REST API blueprints, one per collection, under /api/v1."""
