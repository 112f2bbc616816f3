# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/local.yaml

# This module takes no inputs: the VPC is rendered from network.create in the YAML.
