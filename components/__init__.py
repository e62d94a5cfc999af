"""Pulumi ComponentResources and dynamic providers: the only code that imports pulumi."""
