# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/dev.yaml

################################################################################
# Task execution role
################################################################################

output "execution_role_arn" {
  description = "ARN of the task execution role."
  value       = aws_iam_role.execution.arn
}

output "execution_role_name" {
  description = "Name of the task execution role."
  value       = aws_iam_role.execution.name
}

################################################################################
# Task roles
################################################################################

output "task_role_arns" {
  description = "Task role ARN, by service."
  value = {
    "api"    = aws_iam_role.task_api.arn
    "admin"  = aws_iam_role.task_admin.arn
    "worker" = aws_iam_role.task_worker.arn
  }
}

output "task_role_names" {
  description = "Task role name, by service."
  value = {
    "api"    = aws_iam_role.task_api.name
    "admin"  = aws_iam_role.task_admin.name
    "worker" = aws_iam_role.task_worker.name
  }
}
