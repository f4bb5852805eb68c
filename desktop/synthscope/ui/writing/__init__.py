"""Writing: Generate, Step, Stop, Undo and Clear, chat mode and its input, and picking each word piece yourself."""
