"""The PySide6 desktop interface: one window that shows how every token was sampled."""
