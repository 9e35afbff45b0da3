# (preload: built by later issues)
