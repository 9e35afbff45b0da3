# (client: built by later issues)
