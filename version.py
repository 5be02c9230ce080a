"""The one place SocketChat's version is written down.

Standard library only and free of side effects, so ``main.py --version`` can import it without
loading anything else. Everything that shows a version (the CLI, the GUI's About box, the
packaged executable) reads :data:`__version__` from here.
"""

__version__ = "0.1.0"
