"""Developer tools that drive a running emulator from the shell: invoke, deploy (s.yaml, template.yml)."""
