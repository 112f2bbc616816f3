# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/dev.yaml

################################################################################
# Network
################################################################################

variable "vpc_id" {
  description = "VPC of the services' security groups."
  type        = string
  nullable    = false
}

variable "subnet_ids" {
  description = "Private subnets the tasks run in (no public IP)."
  type        = list(string)
  nullable    = false
}

variable "vpc_link_security_group_id" {
  description = "Security group of the API Gateway VPC link, the only source the routed services admit."
  type        = string
  nullable    = false
}

################################################################################
# IAM
################################################################################

variable "execution_role_arn" {
  description = "Task execution role of every task definition."
  type        = string
  nullable    = false
}

variable "task_role_arns" {
  description = "Task role ARN, by service."
  type        = map(string)
  nullable    = false
}

################################################################################
# Service discovery
################################################################################

variable "cloudmap_service_arns" {
  description = "Cloud Map service ARN, by service (services with a port only)."
  type        = map(string)
  nullable    = false
}
