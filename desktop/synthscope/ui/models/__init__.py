"""Models: the picker of models on this computer, recent and dropped files, loading, and model information."""
