# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/prod.yaml

terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.68.0, < 6.0.0"
    }
  }
}
