"""The engine worker: the one thread that owns llama.cpp, and the handle the window talks to it through."""
