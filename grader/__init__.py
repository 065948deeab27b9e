"""grader: an autograder and submission checker for deep-learning courses."""

__version__ = "0.1.0"
