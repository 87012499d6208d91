"""HTTP edge: app factory, routes, SSE stream, CORS."""
