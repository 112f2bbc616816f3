# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/local.yaml

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
    path = "../../.hclforge/state/local/terraform.tfstate"
  }
}

provider "aws" {
  region = "ap-northeast-1"
  # Emulator environment: fake credentials, and only the emulator's account is
  # accepted. hclforge points the provider at the emulator through
  # AWS_ENDPOINT_URL, so no port is written here.
  access_key          = "test"
  secret_key          = "test"
  allowed_account_ids = ["123456789012"]

  default_tags {
    tags = {
      CostCenter  = "4711"
      Environment = "local"
      ManagedBy   = "hclforge"
      Project     = "sss"
      Team        = "sales-support"
    }
  }
}

locals {
  vpc_id             = module.network.vpc_id
  private_subnet_ids = module.network.private_subnet_ids
  jwt_issuer         = module.cognito.issuer
  jwt_audience       = [module.cognito.client_id]
}

module "network" {
  source = "./network"
}

module "cognito" {
  source = "./cognito"
}

module "iam" {
  source = "./iam"

  # Addon resources granted to task roles in the YAML (addon:<type>.<name>.<attribute>).
  addon_arns = {
    "aws_sqs_queue.jobs.arn" = aws_sqs_queue.jobs.arn
  }
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
  # Known once the subnets' way out exists: no task starts before it.
  subnet_ids                 = module.network.task_subnet_ids
  execution_role_arn         = module.iam.execution_role_arn
  task_role_arns             = module.iam.task_role_arns
  cloudmap_service_arns      = module.cloudmap.service_arns
  vpc_link_security_group_id = module.apigateway.vpc_link_security_group_id
}
