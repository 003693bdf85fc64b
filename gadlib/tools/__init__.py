"""The commands around the library: the training CLI and its configs, the main job (every
notebook, headless), README tables, course tooling (student editions, nbgrader)."""
