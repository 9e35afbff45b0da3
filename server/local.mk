# (server: built by later issues)
