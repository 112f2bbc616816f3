"""hclforge core: config loading, the typed model, domain rules and HCL output."""

__version__ = "0.2.0"
