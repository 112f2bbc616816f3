"""hclforge core: config loading, the typed model, domain rules and HCL output."""
