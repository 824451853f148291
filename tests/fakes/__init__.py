"""Local, protocol-faithful fakes of the push services rapport sends through.

Each runs as a real server on a loopback port (HTTPS with a CA made for the test
session; APNs over HTTP/2 only), checks the credentials the way the real service does
and can be scripted to answer each documented error. The pytest fixtures are in
``tests.fakes.fixtures`` and are registered by ``tests/conftest.py``.
"""
