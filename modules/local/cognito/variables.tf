# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/local.yaml

# This module takes no inputs: the user pool is rendered from auth.cognito in the YAML.
