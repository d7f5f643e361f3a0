"""Image and root filesystem scanning: inventory, vulnerabilities, secrets, image checks."""
