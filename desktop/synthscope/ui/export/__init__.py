"""Taking the window's work away: pictures of panels, a printable handout, the text and its numbers."""
