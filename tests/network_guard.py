"""The exception the repository-wide network guard (tests/conftest.py) raises.

It lives outside conftest.py so that every test module imports the same class.
"""


class NetworkBlocked(AssertionError):
    """A test tried to reach the outside world."""
