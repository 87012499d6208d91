"""The dedicated stream path: ``GET /dashboard-stream`` served straight on trio sockets, on Hypercorn's port.

``admission.py`` decides (protocol-independent, shared with the ASGI fallback), ``socket_subscriber.py``
writes pre-framed bytes without a task switch, ``connection.py`` serves one stream connection with h11,
``front.py`` accepts every connection and hands the ones that are not the stream to Hypercorn.
"""
