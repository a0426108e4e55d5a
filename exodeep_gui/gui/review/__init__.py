"""Review: the event table and trace, edits, autosave of each movie's review."""
