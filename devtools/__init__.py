"""Developer tools: demo and test image builders, system setup. Not part of the package."""
