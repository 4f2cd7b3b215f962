"""The exceptions for bad input and for what a model cannot do; the CLI turns each into a
one-line error."""


class InputError(Exception):
    """Bad user input: a missing file, a wrong shape, a value out of range, ...

    The message is one line that names the file (when there is one) and the problem,
    e.g. ``"mnist.h5: no group 'validation' (groups: train, test)"``.
    """

    def __init__(self, message, path=None):
        text = f"{path}: {message}" if path is not None else str(message)
        super().__init__(text)
        self.path = path


class NotSupported(InputError):
    """A model cannot do what was asked (see :mod:`rbmcli.models.base`).

    Parameters
    ----------
    message : str
        What is not supported and what to do instead, e.g. ``"is for flow models"``.
    option : str, optional
        The keyword argument that asked for it (``"temperature"``); the command line
        shows it as ``--temperature``.
    """

    def __init__(self, message, option=None):
        self.option = option
        self.reason = message
        super().__init__(f"{option} {message}" if option else message)
