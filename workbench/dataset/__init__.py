"""Writing training data: the selection, the trainer formats, the files and their statistics."""
