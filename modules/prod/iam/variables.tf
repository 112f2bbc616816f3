# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/prod.yaml

# This module takes no inputs: its roles and policies are rendered from the YAML.
