"""Scale-out on Redis (DESIGN 5, docs/scale-out.md): one leader holds the upstream, frames and callbacks
travel through Redis Streams, every instance serves its own SSE clients."""
