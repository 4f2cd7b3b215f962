"""The one exception type for bad input; the CLI turns it into a one-line error."""


class InputError(Exception):
    """Bad user input: a missing file, a wrong shape, a value out of range, ...

    The message is one line that names the file (when there is one) and the problem,
    e.g. ``"mnist.h5: no group 'validation' (groups: train, test)"``.
    """

    def __init__(self, message, path=None):
        text = f"{path}: {message}" if path is not None else str(message)
        super().__init__(text)
        self.path = path
