# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/dev.yaml

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
  name               = "sss-dev-ecs-task-execution"
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
  name   = "sss-dev-cloudwatch-metrics"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.cloudwatch_metrics.json
}

data "aws_iam_policy_document" "read_secrets" {
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:sss/dev/db-AbCdEf"]
  }

  statement {
    actions   = ["ssm:GetParameters"]
    resources = ["arn:aws:ssm:ap-northeast-1:111111111111:parameter/sss/dev/crm-token"]
  }
}

resource "aws_iam_role_policy" "execution_read_secrets" {
  name   = "sss-dev-read-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.read_secrets.json
}

# Pins the role's inline policies: any added outside Terraform show up as drift.
resource "aws_iam_role_policies_exclusive" "execution" {
  role_name = aws_iam_role.execution.name
  policy_names = [
    aws_iam_role_policy.execution_cloudwatch_metrics.name,
    aws_iam_role_policy.execution_read_secrets.name,
  ]
}

################################################################################
# Task role: api
################################################################################

resource "aws_iam_role" "task_api" {
  name               = "sss-dev-api-task"
  description        = "Task role of service api"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "task_api" {
  statement {
    effect    = "Allow"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    resources = ["arn:aws:dynamodb:ap-northeast-1:111111111111:table/sss-dev-*"]
  }

  # ECS Exec: the SSM agent in the task opens its channels with the task role.
  statement {
    actions = [
      "ssmmessages:CreateControlChannel",
      "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel",
      "ssmmessages:OpenDataChannel",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "task_api" {
  name   = "sss-dev-api-permissions"
  role   = aws_iam_role.task_api.id
  policy = data.aws_iam_policy_document.task_api.json
}

resource "aws_iam_role_policies_exclusive" "task_api" {
  role_name    = aws_iam_role.task_api.name
  policy_names = [aws_iam_role_policy.task_api.name]
}

################################################################################
# Task role: admin
################################################################################

resource "aws_iam_role" "task_admin" {
  name               = "sss-dev-admin-task"
  description        = "Task role of service admin"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policies_exclusive" "task_admin" {
  role_name    = aws_iam_role.task_admin.name
  policy_names = []
}

################################################################################
# Task role: worker
################################################################################

resource "aws_iam_role" "task_worker" {
  name               = "sss-dev-worker-task"
  description        = "Task role of service worker"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "task_worker" {
  statement {
    effect    = "Allow"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = ["arn:aws:sqs:ap-northeast-1:111111111111:sss-dev-jobs"]
  }
}

resource "aws_iam_role_policy" "task_worker" {
  name   = "sss-dev-worker-permissions"
  role   = aws_iam_role.task_worker.id
  policy = data.aws_iam_policy_document.task_worker.json
}

resource "aws_iam_role_policies_exclusive" "task_worker" {
  role_name    = aws_iam_role.task_worker.name
  policy_names = [aws_iam_role_policy.task_worker.name]
}
