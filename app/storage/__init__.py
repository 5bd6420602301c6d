"""Where graphs are kept: the store interface, SQLite for one process, Redis for several (with
the quiz and focus on Redis), and the one module that picks the backends."""
