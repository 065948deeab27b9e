"""grader: an autograder and submission checker for deep-learning courses."""

__version__ = "0.1.0"

# set by ``grader.__main__`` to the command being run, so that only its module loads
CLI_COMMAND: str | None = None
