"""One module per `gemini-tuning` subcommand (see shared/cli.py)."""
