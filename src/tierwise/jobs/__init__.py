"""Jobs: the steps a command runs, as library functions the CLI and API share."""
