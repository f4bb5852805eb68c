"""The main window: it builds the panels, makes the parts, connects them, and owns the menus."""
