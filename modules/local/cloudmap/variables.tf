# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/local.yaml

################################################################################
# Private DNS namespace
################################################################################

variable "vpc_id" {
  description = "VPC the private DNS namespace is attached to."
  type        = string
  nullable    = false
}
