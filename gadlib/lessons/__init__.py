"""What the notebooks show: figures, interactive explorers, graded exercises and their checkers."""
