"""Deployment: the local development stack, topic provisioning, production manifests."""
