################################################################################
# Jobs queue: the api service sends work to it (granted in envs/local.yaml)
################################################################################

resource "aws_sqs_queue" "jobs" {
  name                       = "${module.ecs.cluster_name}-jobs"
  visibility_timeout_seconds = 60
}

output "jobs_queue_url" {
  description = "URL of the jobs queue (addons/local/jobs.tf)."
  value       = aws_sqs_queue.jobs.url
}
