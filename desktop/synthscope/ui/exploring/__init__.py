"""Exploring what else the model could have written: branches, replays, and runs compared side by side."""
