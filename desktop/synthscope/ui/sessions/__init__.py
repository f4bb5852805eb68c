"""Sessions: save and open the whole exploration, and the autosave that survives a crash."""
