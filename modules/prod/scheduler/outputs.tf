# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/prod.yaml

################################################################################
# Schedules
################################################################################

output "role_arn" {
  description = "Role the schedules run tasks with."
  value       = aws_iam_role.this.arn
}

output "schedule_arns" {
  description = "Schedule ARN, by scheduled task."
  value = {
    "nightly-report" = aws_scheduler_schedule.nightly_report.arn
  }
}
