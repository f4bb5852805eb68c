"""For a classroom: presentation mode, guess mode, the large-type panels and the Demos menu."""
