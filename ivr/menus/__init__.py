"""Menu files shipped with the package: ``demo.yaml``, the demo city's menu to start from."""
