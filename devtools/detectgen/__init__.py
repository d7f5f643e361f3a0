"""Generators of detection test data (not shipped in the package): audit traffic with an attack
story (`audit`), a differently shaped audit generator for the benchmark (`varied`), and benign
days of an EKS cluster, an ECS account and container logs (`benign`)."""
