"""What the gateway exposes: the merged catalog of all services, and how it is kept current."""
