class UserError(Exception):
    """An error the user caused and can fix; the CLI prints it as one line and exits with code 2."""
