"""Checkers for the graded exercises at the end of every notebook, one module per notebook:
`gadlib.lessons.exercises.ex01` ... `ex05` (each notebook imports its own), over `common` (the verdict
`ExerciseFailed` and how answers are called and compared). docs/instructors.md lists the exercises.
"""
