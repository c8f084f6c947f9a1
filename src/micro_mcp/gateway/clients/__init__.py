"""What the gateway knows of each connected client."""
