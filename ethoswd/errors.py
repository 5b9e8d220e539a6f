"""The one exception type that ends the watchdog with exit status 2.

Raised for bad input, an unsupported kernel, no root, no BCC or no
headers; the message is one line that names the problem and the fix.
"""


class SetupError(Exception):
    """A problem the user must fix; printed as one line, exit status 2."""

    exit_status = 2
