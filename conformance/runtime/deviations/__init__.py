"""Known deviations of named runtimes (YAML data, shipped with the package)."""
