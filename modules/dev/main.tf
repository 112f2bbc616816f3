# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/dev.yaml

terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.68.0, < 6.0.0"
    }
  }

  # Local state lives outside the generated tree, under .hclforge/state/.
  backend "local" {
    path = "../../.hclforge/state/dev/terraform.tfstate"
  }
}

provider "aws" {
  region              = "ap-northeast-1"
  profile             = "sss-dev"
  allowed_account_ids = ["111111111111"]

  default_tags {
    tags = {
      CostCenter  = "4711"
      Environment = "dev"
      ManagedBy   = "hclforge"
      Project     = "sss"
      Team        = "sales-support"
    }
  }
}

locals {
  vpc_id             = "vpc-0a1b2c3d4e5f60718"
  private_subnet_ids = ["subnet-0a1b2c3d4e5f60718", "subnet-0b1c2d3e4f5a60718"]
  jwt_issuer         = "https://cognito-idp.ap-northeast-1.amazonaws.com/ap-northeast-1_AbCdEfGhI"
  jwt_audience       = ["1example23456789abcdefghij"]
}

module "iam" {
  source = "./iam"
}

module "cloudmap" {
  source = "./cloudmap"

  vpc_id = local.vpc_id
}

module "apigateway" {
  source = "./apigateway"

  vpc_id                = local.vpc_id
  subnet_ids            = local.private_subnet_ids
  cloudmap_service_arns = module.cloudmap.service_arns
  jwt_issuer            = local.jwt_issuer
  jwt_audience          = local.jwt_audience
}

module "ecs" {
  source = "./ecs"

  vpc_id = local.vpc_id
  # An existing VPC's way out (NAT or endpoints) is a prerequisite outside this stack.
  subnet_ids                 = local.private_subnet_ids
  execution_role_arn         = module.iam.execution_role_arn
  task_role_arns             = module.iam.task_role_arns
  cloudmap_service_arns      = module.cloudmap.service_arns
  vpc_link_security_group_id = module.apigateway.vpc_link_security_group_id
}
