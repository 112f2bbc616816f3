# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/dev.yaml

################################################################################
# Cluster
################################################################################

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

################################################################################
# Services
################################################################################

output "service_names" {
  description = "ECS service name, by service."
  value = {
    "api"    = aws_ecs_service.api.name
    "admin"  = aws_ecs_service.admin.name
    "worker" = aws_ecs_service.worker.name
  }
}

output "service_arns" {
  description = "ECS service ARN, by service."
  value = {
    "api"    = aws_ecs_service.api.id
    "admin"  = aws_ecs_service.admin.id
    "worker" = aws_ecs_service.worker.id
  }
}

output "task_definition_arns" {
  description = "Task definition ARN (with revision), by service."
  value = {
    "api"    = aws_ecs_task_definition.api.arn
    "admin"  = aws_ecs_task_definition.admin.arn
    "worker" = aws_ecs_task_definition.worker.arn
  }
}

output "task_definition_arns_without_revision" {
  description = "Task definition ARN without revision, by service."
  value = {
    "api"    = aws_ecs_task_definition.api.arn_without_revision
    "admin"  = aws_ecs_task_definition.admin.arn_without_revision
    "worker" = aws_ecs_task_definition.worker.arn_without_revision
  }
}

output "security_group_ids" {
  description = "Security group of the tasks, by service."
  value = {
    "api"    = aws_security_group.api.id
    "admin"  = aws_security_group.admin.id
    "worker" = aws_security_group.worker.id
  }
}

output "log_group_names" {
  description = "CloudWatch log group of the containers, by service."
  value = {
    "api"    = aws_cloudwatch_log_group.api.name
    "admin"  = aws_cloudwatch_log_group.admin.name
    "worker" = aws_cloudwatch_log_group.worker.name
  }
}
