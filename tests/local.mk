# (tests: filled in below)
