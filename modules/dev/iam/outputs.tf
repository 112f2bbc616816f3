# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/dev.yaml

################################################################################
# Task execution role
################################################################################

# ECS uses the execution role as a task starts (pull the image, read secrets, create
# the log stream): its ARN is known here only once its policies are in place.
output "execution_role_arn" {
  description = "ARN of the task execution role, once its policies are attached."
  value       = aws_iam_role.execution.arn
  depends_on = [
    aws_iam_role_policy_attachment.execution,
    aws_iam_role_policy.execution_cloudwatch_metrics,
    aws_iam_role_policy.execution_read_secrets,
    aws_iam_role_policies_exclusive.execution,
  ]
}

output "execution_role_name" {
  description = "Name of the task execution role."
  value       = aws_iam_role.execution.name
}

################################################################################
# Task roles
################################################################################

output "task_role_arns" {
  description = "Task role ARN, by service, once each role's policies are in place."
  value = {
    "api"    = aws_iam_role.task_api.arn
    "admin"  = aws_iam_role.task_admin.arn
    "worker" = aws_iam_role.task_worker.arn
  }
  depends_on = [
    aws_iam_role_policy.task_api,
    aws_iam_role_policies_exclusive.task_api,
    aws_iam_role_policies_exclusive.task_admin,
    aws_iam_role_policy.task_worker,
    aws_iam_role_policies_exclusive.task_worker,
  ]
}

output "task_role_names" {
  description = "Task role name, by service."
  value = {
    "api"    = aws_iam_role.task_api.name
    "admin"  = aws_iam_role.task_admin.name
    "worker" = aws_iam_role.task_worker.name
  }
}
