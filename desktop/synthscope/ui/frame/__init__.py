"""What every part of the window shares: its actions, the run state and the notices (banner and status bar)."""
