# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/prod.yaml

################################################################################
# What the alarms watch
################################################################################

variable "cluster_name" {
  description = "ECS cluster of the services."
  type        = string
  nullable    = false
}

variable "api_id" {
  description = "ID of the HTTP API."
  type        = string
  nullable    = false
}
