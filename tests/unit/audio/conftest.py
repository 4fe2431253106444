"""Apollo tests use the shared JACK fixture of tests/conftest.py."""
