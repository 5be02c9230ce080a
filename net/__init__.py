"""SocketChat networking: the sans-I/O protocol core and its relay and client drivers."""
