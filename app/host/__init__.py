"""Preparing a Docker host for actions: the runtime images (``images``) and the firewall rules that keep action
containers away from the host and the services (``firewall``)."""
