"""The one exception type users see: the CLI prints its message on one line and exits 2."""


class LecnnError(Exception):
    """A problem the user can fix (bad input, missing data, absent device).

    The message names what is wrong and how to fix it, and fits on one line.
    """
