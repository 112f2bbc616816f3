# generated — do not edit: rendered by hclforge from envs/_base.yaml, envs/prod.yaml

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

################################################################################
# Role EventBridge Scheduler runs the tasks with
################################################################################

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    # Confused-deputy guard: only the Scheduler acting for this account may assume the role
    # (EventBridge Scheduler user guide, "Set up the execution role").
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "sss-prod-scheduler"
  description        = "EventBridge Scheduler: run the scheduled ECS tasks"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
}

data "aws_iam_policy_document" "run_tasks" {
  statement {
    actions   = ["ecs:RunTask"]
    resources = [for family in values(var.task_definition_families) : "${family}:*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }

  statement {
    actions   = ["iam:PassRole"]
    resources = var.pass_role_arns

    condition {
      test     = "StringLike"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "sss-prod-run-tasks"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.run_tasks.json
}

resource "aws_iam_role_policies_exclusive" "this" {
  role_name    = aws_iam_role.this.name
  policy_names = [aws_iam_role_policy.this.name]
}

################################################################################
# Schedule: nightly-report
################################################################################

resource "aws_scheduler_schedule" "nightly_report" {
  # checkov:skip=CKV_AWS_297: the schedule holds no secrets (a task definition ARN and a command); AWS-owned key
  name                         = "sss-prod-nightly-report"
  description                  = "Runs the task definition of service api"
  schedule_expression          = "cron(0 18 * * ? *)"
  schedule_expression_timezone = "Asia/Tokyo"

  flexible_time_window {
    mode = "OFF"
  }

  # The universal RunTask target: its input is the RunTask request itself, so the
  # command override is the documented Overrides.ContainerOverrides field. The
  # templated ECS target documents no mapping of its input to overrides
  # (terraform-provider-aws #34057), and the task would run the service's own
  # command and never exit.
  target {
    arn      = "arn:${data.aws_partition.current.partition}:scheduler:::aws-sdk:ecs:runTask"
    role_arn = aws_iam_role.this.arn
    input = jsonencode({
      Cluster        = var.cluster_arn
      TaskDefinition = var.task_definition_arns["api"]
      Count          = 1
      CapacityProviderStrategy = [
        {
          CapacityProvider = "FARGATE"
          Weight           = 1
        },
      ]
      NetworkConfiguration = {
        AwsvpcConfiguration = {
          Subnets        = var.subnet_ids
          SecurityGroups = [var.security_group_ids["api"]]
          AssignPublicIp = "DISABLED"
        }
      }
      Overrides = {
        ContainerOverrides = [
          {
            Name    = "api"
            Command = ["python", "-m", "report"]
          },
        ]
      }
    })

    # RunTask fails now and then for want of Fargate capacity: try again, for an hour at most.
    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }
  }
}
