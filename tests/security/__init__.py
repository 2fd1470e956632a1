"""Security tests: team isolation over every URL, hostile input, regressions."""
