# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/prod.yaml

terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.68.0, < 6.0.0"
    }
  }

  backend "s3" {
    bucket       = "sss-terraform-state-222222222222"
    key          = "sss/prod/terraform.tfstate"
    region       = "ap-northeast-1"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region              = "ap-northeast-1"
  profile             = "sss-prod"
  allowed_account_ids = ["222222222222"]

  default_tags {
    tags = {
      CostCenter  = "4711"
      Criticality = "high"
      Environment = "prod"
      ManagedBy   = "hclforge"
      Project     = "sss"
      Team        = "sales-support"
    }
  }
}

locals {
  vpc_id             = "vpc-0f1e2d3c4b5a69788"
  private_subnet_ids = ["subnet-0c1d2e3f4a5b60718", "subnet-0d1e2f3a4b5c60718", "subnet-0e1f2a3b4c5d60718"]
  jwt_issuer         = "https://cognito-idp.ap-northeast-1.amazonaws.com/ap-northeast-1_PrOdPoOl1"
  jwt_audience       = ["2prodclient3456789abcdefghi", "3prodadminclient89abcdefgh"]
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

module "scheduler" {
  source = "./scheduler"

  cluster_arn              = module.ecs.cluster_arn
  subnet_ids               = local.private_subnet_ids
  task_definition_arns     = module.ecs.task_definition_arns
  task_definition_families = module.ecs.task_definition_arns_without_revision
  security_group_ids       = module.ecs.security_group_ids
  pass_role_arns           = concat([module.iam.execution_role_arn], values(module.iam.task_role_arns))
}

module "alarms" {
  source = "./alarms"

  cluster_name = module.ecs.cluster_name
  api_id       = module.apigateway.api_id
}
