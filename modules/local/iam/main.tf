# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/local.yaml

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

################################################################################
# Trust policy shared by the task execution role and the task roles
################################################################################

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # Confused-deputy guard: only ECS acting for this account may assume the role.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:*"]
    }
  }
}

################################################################################
# Task execution role (one for the cluster)
################################################################################

resource "aws_iam_role" "execution" {
  name               = "sss-local-ecs-task-execution"
  description        = "ECS task execution role: pull images, write logs, read the services' secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "cloudwatch_metrics" {
  statement {
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "execution_cloudwatch_metrics" {
  name   = "sss-local-cloudwatch-metrics"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.cloudwatch_metrics.json
}

# Pins the role's inline policies: any added outside Terraform show up as drift.
resource "aws_iam_role_policies_exclusive" "execution" {
  role_name = aws_iam_role.execution.name
  policy_names = [
    aws_iam_role_policy.execution_cloudwatch_metrics.name,
  ]
}

################################################################################
# Task role: api
################################################################################

resource "aws_iam_role" "task_api" {
  name               = "sss-local-api-task"
  description        = "Task role of service api"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "task_api" {
  statement {
    effect    = "Allow"
    actions   = ["sqs:SendMessage", "sqs:GetQueueUrl"]
    resources = [var.addon_arns["aws_sqs_queue.jobs.arn"]]
  }
}

resource "aws_iam_role_policy" "task_api" {
  name   = "sss-local-api-permissions"
  role   = aws_iam_role.task_api.id
  policy = data.aws_iam_policy_document.task_api.json
}

resource "aws_iam_role_policies_exclusive" "task_api" {
  role_name    = aws_iam_role.task_api.name
  policy_names = [aws_iam_role_policy.task_api.name]
}

################################################################################
# Task role: web
################################################################################

resource "aws_iam_role" "task_web" {
  name               = "sss-local-web-task"
  description        = "Task role of service web"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policies_exclusive" "task_web" {
  role_name    = aws_iam_role.task_web.name
  policy_names = []
}
