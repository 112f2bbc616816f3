# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/prod.yaml

################################################################################
# Cluster and tasks
################################################################################

variable "cluster_arn" {
  description = "ECS cluster the tasks run in."
  type        = string
  nullable    = false
}

variable "task_definition_arns" {
  description = "Task definition ARN (with revision), by service."
  type        = map(string)
  nullable    = false
}

variable "task_definition_families" {
  description = "Task definition ARN without revision, by service (for the RunTask permission)."
  type        = map(string)
  nullable    = false
}

variable "pass_role_arns" {
  description = "Roles the scheduler may pass to ECS: the execution role and the task roles."
  type        = list(string)
  nullable    = false
}

################################################################################
# Network
################################################################################

variable "subnet_ids" {
  description = "Private subnets the tasks run in."
  type        = list(string)
  nullable    = false
}

variable "security_group_ids" {
  description = "Security group of the tasks, by service."
  type        = map(string)
  nullable    = false
}
