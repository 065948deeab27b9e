"""Output formats for a result: GitHub Actions (summary, annotations), JUnit."""
