"""Streaming protocols below the kubelet and apiserver: SPDY/3.1 and WebSocket.

A low layer: imports nothing from kubepy except ``kubepy.errors``. Everything here runs over
an abstract byte transport (``Read``/``Write`` coroutines), so the same session code serves a
raw upgraded socket and SPDY frames tunnelled inside WebSocket binary messages.
"""
