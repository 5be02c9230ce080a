"""SocketChat desktop app (Tkinter). Only the Tk thread touches widgets."""
