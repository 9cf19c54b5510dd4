"""The check every bad-input test makes of an error message."""


def check_message(error, words):
    """Assert that the message of the raised ``error`` (a ``pytest.ExceptionInfo``) holds every word."""
    message = str(error.value)
    for word in words:
        assert word in message, f"{word!r} missing from {message!r}"
