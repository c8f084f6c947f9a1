"""Deployment of the gateway and its services: container layouts and Kubernetes manifests."""
