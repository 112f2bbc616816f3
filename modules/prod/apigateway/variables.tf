# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/prod.yaml

################################################################################
# VPC link
################################################################################

variable "vpc_id" {
  description = "VPC of the VPC link's security group."
  type        = string
  nullable    = false
}

variable "subnet_ids" {
  description = "Private subnets the VPC link reaches the services through."
  type        = list(string)
  nullable    = false
}

################################################################################
# Integrations
################################################################################

variable "cloudmap_service_arns" {
  description = "Cloud Map service ARN, by ECS service: the integrations' targets."
  type        = map(string)
  nullable    = false
}

################################################################################
# JWT authorizer (Cognito)
################################################################################

variable "jwt_issuer" {
  description = "Issuer URL of the Cognito user pool."
  type        = string
  nullable    = false
}

variable "jwt_audience" {
  description = "App client IDs accepted as audience (Cognito access tokens match on client_id)."
  type        = list(string)
  nullable    = false
}
